package server

import (
	"strconv"
	"strings"
)

// The operator's commands about one key: STRLEN, and OBJECT's
// subcommands that apply to a store of strings.

// STRLEN key: the length of its value, 0 when there is none.
func cmdStrlen(c *respConn, args [][]byte) {
	v, _, _, err := c.s.st.Lookup(c.scratch[:0], str(args[1]))
	c.scratch = v
	if err != nil {
		c.storeError(err)
	} else {
		c.w.Int(int64(len(v)))
	}
	c.trimScratch()
}

// errNoLFU is Redis's reply to OBJECT FREQ under a policy that does not
// count accesses, which every sessiond policy is.
const errNoLFU = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
	"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."

// OBJECT ENCODING|FREQ|HELP key. IDLETIME and REFCOUNT do not apply: the
// store keeps no time of last access, and shares no values.
func cmdObject(c *respConn, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "help" && len(args) == 2:
		c.w.Array(3)
		c.w.Simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
		c.w.Simple("ENCODING <key>: the kind of internal representation Redis would use for the key's value.")
		c.w.Simple("FREQ <key>: an error: no maxmemory policy of sessiond counts accesses.")
		return
	case (sub == "encoding" || sub == "freq") && len(args) == 3:
	default:
		c.subcommandError("object", args, "encoding", "freq", "help")
		return
	}
	v, _, found, err := c.s.st.Lookup(c.scratch[:0], str(args[2]))
	c.scratch = v
	defer c.trimScratch()
	switch {
	case err != nil:
		c.storeError(err)
	case !found:
		c.w.Null()
	case sub == "freq":
		c.w.Error(errNoLFU)
	default:
		c.w.BulkString(encoding(v))
	}
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
