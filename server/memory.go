package server

import (
	"runtime/debug"
	"strings"
)

// MEMORY: what a key takes, and the store's memory in MEMORY STATS's
// words. A key's usage is counted as maxmemory counts it (Store.Usage):
// its record's space in its segment and its share of the index, not
// Redis's allocator sizes. docs/OPERATIONS.md says how.

// MEMORY USAGE key [SAMPLES count] | STATS | DOCTOR | PURGE | MALLOC-STATS | HELP
func cmdMemory(c *respConn, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "usage" && len(args) >= 3:
		c.memoryUsage(args)
	case sub == "stats" && len(args) == 2:
		c.memoryStats()
	case sub == "doctor" && len(args) == 2:
		c.w.Verbatim("txt", c.s.memoryDoctor())
	case sub == "malloc-stats" && len(args) == 2:
		// What Redis answers when built without jemalloc.
		c.w.BulkString("Stats not supported for the current allocator")
	case sub == "purge" && len(args) == 2:
		// The store's memory is mapped, and freed segments go back to
		// the kernel as they are freed; the Go heap's free pages go
		// back now.
		debug.FreeOSMemory()
		c.w.OK()
	case sub == "help" && len(args) == 2:
		c.help("MEMORY",
			"DOCTOR",
			"    Return memory problems reports.",
			"MALLOC-STATS",
			"    Not supported: answers so.",
			"PURGE",
			"    Return the Go heap's free pages to the system.",
			"STATS",
			"    Return information about the memory usage of the server.",
			"USAGE <key> [SAMPLES <count>]",
			"    Return the bytes <key> takes in the store, as maxmemory counts them.")
	default:
		c.subcommandError("memory", args, "usage", "stats", "doctor", "malloc-stats", "purge", "help")
	}
}

// memoryUsage answers MEMORY USAGE key [SAMPLES count]. SAMPLES is checked
// as Redis checks it and has nothing to sample: a value is one string.
func (c *respConn) memoryUsage(args [][]byte) {
	for j := 3; j < len(args); j += 2 {
		if !equalFold(args[j], "samples") || j+1 == len(args) {
			c.w.Error(errSyntax)
			return
		}
		n, ok := c.intArg(args[j+1])
		if !ok {
			return
		}
		if n < 0 {
			c.w.Error(errSyntax)
			return
		}
	}
	n, found, err := c.s.st.Usage(str(args[2]))
	switch {
	case err != nil:
		c.storeError(err)
	case !found:
		c.w.Null()
	default:
		c.w.Int(n)
	}
}

// memoryStats answers MEMORY STATS with the fields of Redis's that the
// store has a figure for, in Redis's order and meaning, with the store's
// memory (what maxmemory caps) as the allocation.
func (c *respConn) memoryStats() {
	st := c.s.st.Stats()
	overhead := st.UsedMemory - st.RecordBytes
	perKey := int64(0)
	if st.Keys > 0 {
		perKey = st.UsedMemory / int64(st.Keys)
	}
	pct := func(part, whole int64) float64 {
		if whole == 0 {
			return 0
		}
		return 100 * float64(part) / float64(whole)
	}
	fields := []struct {
		name  string
		int   int64
		float float64
		isF   bool
	}{
		{name: "total.allocated", int: st.UsedMemory},
		{name: "overhead.total", int: overhead},
		{name: "keys.count", int: int64(st.Keys)},
		{name: "keys.bytes-per-key", int: perKey},
		{name: "dataset.bytes", int: st.RecordBytes},
		{name: "dataset.percentage", float: pct(st.RecordBytes, st.UsedMemory), isF: true},
	}
	c.w.Map(len(fields))
	for _, f := range fields {
		c.w.BulkString(f.name)
		if f.isF {
			c.w.Double(f.float)
		} else {
			c.w.Int(f.int)
		}
	}
}

// memoryDoctor is MEMORY DOCTOR's report: the store against its cap, in a
// sentence an operator can act on.
func (s *Server) memoryDoctor() string {
	st := s.st.Stats()
	switch {
	case st.Keys == 0:
		return "The store is empty: there is nothing to report.\n"
	case st.MaxMemory == 0:
		return "No memory problem found. maxmemory is not set: the store grows until the system refuses it.\n"
	case st.UsedMemory*10 >= st.MaxMemory*9:
		return "The store uses " + human(st.UsedMemory) + " of its " + human(st.MaxMemory) +
			" maxmemory (90% or more): writes evict (maxmemory-policy " + st.Policy.String() +
			") or, under noeviction, fail with OOM. Raise --maxmemory or expect evictions.\n"
	default:
		return "No memory problem found: the store uses " + human(st.UsedMemory) + " of its " + human(st.MaxMemory) + " maxmemory.\n"
	}
}

// ttlSamples is how many keys with an expiry INFO keyspace's avg_ttl is
// estimated from.
const ttlSamples = 1000

// avgTTL is INFO keyspace's avg_ttl: the estimated average TTL in ms of
// the keys that have one, 0 with none, as Redis estimates it.
func (s *Server) avgTTL() int64 {
	avg, _, err := s.st.SampleTTL(ttlSamples)
	if err != nil {
		return 0
	}
	return avg.Milliseconds()
}
