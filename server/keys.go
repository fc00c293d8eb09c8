package server

import (
	"math"
	"strconv"
	"time"

	"github.com/sessiond/sessiond"
)

// EXPIRE key seconds [NX|XX|GT|LT], and PEXPIRE, EXPIREAT, PEXPIREAT.
func cmdExpire(c *respConn, args [][]byte) {
	name := c.lastCmd
	n, ok := c.intArg(args[2])
	if !ok {
		return
	}
	nx, xx, gt, lt := false, false, false, false
	for _, a := range args[3:] {
		switch {
		case equalFold(a, "nx"):
			nx = true
		case equalFold(a, "xx"):
			xx = true
		case equalFold(a, "gt"):
			gt = true
		case equalFold(a, "lt"):
			lt = true
		default:
			c.w.Error("ERR Unsupported option " + string(a))
			return
		}
	}
	switch {
	case nx && (xx || gt || lt):
		c.w.Error("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	case gt && lt:
		c.w.Error("ERR GT and LT options at the same time are not compatible")
		return
	}
	var unit int64 = 1000
	if name == "pexpire" || name == "pexpireat" {
		unit = 1
	}
	if n > math.MaxInt64/unit || n < math.MinInt64/unit {
		c.w.Error("ERR invalid expire time in '" + name + "' command")
		return
	}
	at := n * unit
	if name == "expire" || name == "pexpire" {
		now := c.s.nowMS()
		if (at > 0 && now > math.MaxInt64-at) || (at < 0 && now < math.MinInt64-at) {
			c.w.Error("ERR invalid expire time in '" + name + "' command")
			return
		}
		at += now
	}
	if at <= 0 {
		at = -1 // in the past: the key is deleted, if the condition holds
	}
	set := false
	_, err := c.s.st.Update(str(args[1]), func(e *sessiond.Entry) error {
		if !e.Found() {
			return nil
		}
		// Compared as stored: an expiry past the latest the store
		// keeps is kept as that.
		if set = expireHolds(nx, xx, gt, lt, unixMS(e.Item().Expires()), min(at, maxStoredExpiry)); set {
			e.SetExpires(expiryTime(at))
		}
		return nil
	})
	if err != nil {
		c.storeError(err)
		return
	}
	c.w.Int(b2i(set))
}

// maxStoredExpiry is the latest expiry the store keeps, in unix ms
// (2^48-1, the year 10889: see sessiond's Caveats); a later one is kept
// as it, and EXPIRE GT compares with what is kept, as Redis does.
const maxStoredExpiry = 1<<48 - 1

// expireHolds reports whether EXPIRE's NX, XX, GT and LT let it replace
// the expiry cur with next (unix ms, 0 for none). No expiry counts as
// later than any time: GT never sets one on a key without, LT always
// does, and XX LT, which needs one, fails there.
func expireHolds(nx, xx, gt, lt bool, cur, next int64) bool {
	later := func(a, b int64) bool { // a later than b
		switch {
		case a == 0:
			return b != 0
		case b == 0:
			return false
		}
		return a > b
	}
	switch {
	case nx && cur != 0, xx && cur == 0:
		return false
	case gt:
		return later(next, cur)
	case lt:
		return later(cur, next)
	}
	return true
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TTL key, PTTL key: -2 for a missing key, -1 for one without expiry.
func cmdTTL(c *respConn, args [][]byte) {
	// A read, which works while the disk refuses writes.
	v, it, found, err := c.s.st.Lookup(c.scratch[:0], str(args[1]))
	c.scratch = v
	c.trimScratch()
	exp := unixMS(it.Expires())
	if err == nil {
		c.countLookup(found)
	}
	switch {
	case err != nil:
		c.storeError(err)
	case !found:
		c.w.Int(-2)
	case exp == 0:
		c.w.Int(-1)
	case c.lastCmd == "pttl":
		c.w.Int(max(exp-c.s.nowMS(), 0))
	default:
		c.w.Int((max(exp-c.s.nowMS(), 0) + 500) / 1000)
	}
}

// PERSIST key: 1 if an expiry was removed.
func cmdPersist(c *respConn, args [][]byte) {
	set := false
	_, err := c.s.st.Update(str(args[1]), func(e *sessiond.Entry) error {
		if set = e.Found() && !e.Item().Expires().IsZero(); set {
			e.SetExpires(time.Time{})
		}
		return nil
	})
	if err != nil {
		c.storeError(err)
		return
	}
	c.w.Int(b2i(set))
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
func cmdScan(c *respConn, args [][]byte) {
	cursor, err := strconv.ParseUint(str(args[1]), 10, 64)
	if err != nil {
		c.w.Error("ERR invalid cursor")
		return
	}
	match, count, typ := "", 10, ""
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.w.Error(errSyntax)
			return
		}
		switch a := args[i]; {
		case equalFold(a, "match"):
			match = string(args[i+1])
			if match == "*" {
				match = ""
			}
		case equalFold(a, "count"):
			n, ok := c.intArg(args[i+1])
			if !ok {
				return
			}
			if n < 1 {
				c.w.Error(errSyntax)
				return
			}
			count = int(min(n, 1<<20))
		case equalFold(a, "type"):
			typ = string(args[i+1])
		default:
			c.w.Error(errSyntax)
			return
		}
	}
	keys, next, err := c.s.st.Scan(cursor, match, count)
	if err != nil {
		c.storeError(err)
		return
	}
	if typ != "" && !equalFold([]byte(typ), "string") {
		keys = nil // every key is a string
	}
	c.w.Array(2)
	c.w.BulkString(strconv.FormatUint(next, 10))
	c.w.Array(len(keys))
	for _, k := range keys {
		c.w.BulkString(k)
	}
}

// KEYS pattern
func cmdKeys(c *respConn, args [][]byte) {
	match := string(args[1])
	if match == "*" {
		match = ""
	}
	var keys []string
	var cursor uint64
	for {
		page, next, err := c.s.st.Scan(cursor, match, 1000)
		if err != nil {
			c.storeError(err)
			return
		}
		keys = append(keys, page...)
		if next == 0 {
			break
		}
		cursor = next
	}
	c.w.Array(len(keys))
	for _, k := range keys {
		c.w.BulkString(k)
	}
}

// DBSIZE
func cmdDBSize(c *respConn, args [][]byte) {
	n, err := c.s.st.Len()
	if err != nil {
		c.storeError(err)
		return
	}
	c.w.Int(int64(n))
}

// FLUSHDB [ASYNC|SYNC], FLUSHALL [ASYNC|SYNC]
func cmdFlush(c *respConn, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !equalFold(args[1], "async") && !equalFold(args[1], "sync")) {
		c.w.Error(errSyntax)
		return
	}
	if err := c.s.st.Clear(); err != nil {
		c.storeError(err)
		return
	}
	c.w.OK()
}
