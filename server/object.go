package server

import (
	"strconv"
	"strings"
)

// The operator's commands about one key: STRLEN, and OBJECT's
// subcommands that apply to a store of strings.

// STRLEN key: the length of its value, 0 when there is none.
func cmdStrlen(c *respConn, args [][]byte) {
	v, _, found, err := c.s.st.Lookup(c.scratch[:0], str(args[1]))
	c.scratch = v
	if err != nil {
		c.storeError(err)
	} else {
		c.countLookup(found)
		c.w.Int(int64(len(v)))
	}
	c.trimScratch()
}

// errNoLFU is Redis's reply to OBJECT FREQ under a policy that does not
// count accesses. None of sessiond's does: allkeys-lru keeps a read bit per
// record (CLOCK), as close to Redis's LRU as a bit can be, and
// volatile-ttl and noeviction keep nothing, so FREQ answers as Redis does
// under allkeys-lru.
const errNoLFU = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
	"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."

// errNoIdle is the reply to OBJECT IDLETIME: the store keeps a read bit
// per record, not a time, and a made-up idle time would mislead a search
// for stale sessions.
const errNoIdle = "ERR sessiond keeps no time of last access: idle time not tracked. " +
	"TTL shows how long a session has left."

// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP key
func cmdObject(c *respConn, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "help" && len(args) == 2:
		c.help("OBJECT",
			"ENCODING <key>",
			"    Return the kind of internal representation Redis would use for the value of <key>.",
			"FREQ <key>",
			"    An error: no maxmemory policy of sessiond counts accesses.",
			"IDLETIME <key>",
			"    An error: sessiond keeps no time of last access.",
			"REFCOUNT <key>",
			"    Return 1: sessiond shares no values.")
		return
	case (sub == "encoding" || sub == "freq" || sub == "idletime" || sub == "refcount") && len(args) == 3:
	default:
		c.subcommandError("object", args, "encoding", "freq", "idletime", "refcount", "help")
		return
	}
	var v []byte
	var found bool
	var err error
	if sub == "encoding" {
		v, _, found, err = c.s.st.Lookup(c.scratch[:0], str(args[2]))
		c.scratch = v
		defer c.trimScratch()
	} else {
		// Usage finds the key without reading its value or marking it
		// read.
		_, found, err = c.s.st.Usage(str(args[2]))
	}
	if err == nil {
		c.countLookup(found)
	}
	switch {
	case err != nil:
		c.storeError(err)
	case !found:
		c.w.Null()
	case sub == "encoding":
		c.w.BulkString(encoding(v))
	case sub == "freq":
		c.w.Error(errNoLFU)
	case sub == "idletime":
		c.w.Error(errNoIdle)
	default: // refcount
		c.w.Int(1)
	}
}

// help answers a command's HELP subcommand as Redis's addReplyHelp does:
// a line naming the command, the lines given, and HELP's own.
func (c *respConn) help(cmd string, lines ...string) {
	c.w.Array(len(lines) + 3)
	c.w.Simple(cmd + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.w.Simple(l)
	}
	c.w.Simple("HELP")
	c.w.Simple("    Print this help.")
}

// encoding is the encoding Redis gives a string value set with SET: int
// for an integer in its canonical form (what strconv.FormatInt would
// write, in 20 bytes at most), embstr up to 44 bytes, raw beyond.
func encoding(v []byte) string {
	if len(v) <= 20 {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && strconv.FormatInt(n, 10) == string(v) {
			return "int"
		}
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}
