package server

import (
	"bytes"
	"errors"
	"math"
	"time"

	"github.com/sessiond/sessiond"
)

func cmdGet(c *respConn, args [][]byte) {
	v, _, found, err := c.s.st.Lookup(c.scratch[:0], str(args[1]))
	c.scratch = v
	switch {
	case err != nil:
		c.storeError(err)
	case !found:
		c.stats.misses.Add(1)
		c.w.Null()
	default:
		c.stats.hits.Add(1)
		c.w.Bulk(v)
	}
	c.trimScratch()
}

// expiry is an expiry option of SET or GETEX.
type expiry struct {
	set     bool          // an option gave one
	ttl     time.Duration // relative (EX, PX), or
	at      int64         // absolute unix ms; 0 with persist
	keepTTL bool
	persist bool
	// opt and val are the EX, PX, EXAT or PXAT option and its value, as
	// sent: Redis checks every option's syntax before it reads the value.
	opt, val []byte
}

// option takes args[i] if it is an EX, PX, EXAT or PXAT option that can
// come here, with its value args[i+1]. Redis takes the same option twice,
// the last one winning, but not two different ones.
func (e *expiry) option(a []byte, args [][]byte, i int) bool {
	if !isExpiryOpt(a) || (e.set && !bytes.EqualFold(a, e.opt)) || i+1 >= len(args) {
		return false
	}
	e.opt, e.val, e.set = a, args[i+1], true
	return true
}

// keepTTLOption takes a if it is KEEPTTL and no other expiry option came
// before it (SET's and SESSION.MERGE's).
func (e *expiry) keepTTLOption(a []byte) bool {
	if !equalFold(a, "keepttl") || (e.set && !e.keepTTL) {
		return false
	}
	e.keepTTL, e.set = true, true
	return true
}

// resolve reads the value of the EX, PX, EXAT or PXAT option taken, if
// any, into ttl or at, as parseExpiry reads it for cmd; it replies and
// returns false on a bad one.
func (e *expiry) resolve(c *respConn, cmd string) bool {
	if e.val == nil {
		return true
	}
	ttl, at, ok := c.parseExpiry(e.opt, e.val, cmd)
	e.ttl, e.at = ttl, at
	return ok
}

// parseExpiry reads EX/PX/EXAT/PXAT's value: a time to live for EX and PX
// (the store adds it to the time it reads anyway), an absolute time in unix
// ms for the others. It replies and returns false on a bad one, with
// Redis's words for cmd.
func (c *respConn) parseExpiry(opt, val []byte, cmd string) (ttl time.Duration, at int64, ok bool) {
	n, ok := parseInt(val)
	if !ok {
		c.w.Error(errNotInt)
		return 0, 0, false
	}
	switch {
	case n <= 0:
		ok = false
	case equalFold(opt, "ex"):
		if n <= maxTTL/int64(time.Second) {
			ttl = time.Duration(n) * time.Second
		} else if now := c.s.nowMS(); n <= (math.MaxInt64-now)/1000 {
			at = now + n*1000
		} else {
			ok = false
		}
	case equalFold(opt, "px"):
		if n <= maxTTL/int64(time.Millisecond) {
			ttl = time.Duration(n) * time.Millisecond
		} else if now := c.s.nowMS(); n <= math.MaxInt64-now {
			at = now + n
		} else {
			ok = false
		}
	case equalFold(opt, "exat"):
		ok = n <= math.MaxInt64/1000
		at = n * 1000
	default: // pxat
		at = n
	}
	if !ok {
		c.w.Error("ERR invalid expire time in '" + cmd + "' command")
		return 0, 0, false
	}
	return ttl, at, true
}

// maxTTL is the longest time to live a time.Duration holds (292 years);
// longer ones are turned into absolute times.
const maxTTL = math.MaxInt64

func isExpiryOpt(b []byte) bool {
	return equalFold(b, "ex") || equalFold(b, "px") || equalFold(b, "exat") || equalFold(b, "pxat")
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
func cmdSet(c *respConn, args [][]byte) {
	var o sessiond.WriteOptions
	var exp expiry
	get := false
	for i := 3; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "nx") && o.Cond != sessiond.IfPresent:
			o.Cond = sessiond.IfAbsent
		case equalFold(a, "xx") && o.Cond != sessiond.IfAbsent:
			o.Cond = sessiond.IfPresent
		case equalFold(a, "get"):
			get = true
		case exp.keepTTLOption(a):
		case exp.option(a, args, i):
			i++
		default:
			c.w.Error(errSyntax)
			return
		}
	}
	if !exp.resolve(c, "set") {
		return
	}
	// An absolute time already past deletes the key, as Redis does: the
	// store does that for any past expiry.
	o.Expires, o.TTL, o.KeepTTL = expiryTime(exp.at), exp.ttl, exp.keepTTL
	key, value := str(args[1]), args[2]
	if !get {
		_, err := c.s.st.Write(key, value, o)
		switch {
		case errors.Is(err, sessiond.ErrNotStored):
			c.w.Null()
		case err != nil:
			c.storeError(err)
		default:
			c.w.OK()
		}
		return
	}
	// SET ... GET: the old value, read in the step that writes the new
	// one. It is returned even when NX or XX keeps the write from
	// happening, as Redis does; a value too large is refused first, as a
	// SET without GET refuses it.
	if len(value) > c.s.storeOpts.MaxValueSize {
		c.storeError(sessiond.ErrValueTooLarge)
		return
	}
	found := false
	_, err := c.s.st.Update(key, func(e *sessiond.Entry) error {
		if found = e.Found(); found {
			c.scratch = append(c.scratch[:0], e.Value()...)
		}
		if (o.Cond == sessiond.IfAbsent && found) || (o.Cond == sessiond.IfPresent && !found) {
			return nil
		}
		e.Set(value)
		e.SetFlags(0)
		switch {
		case o.KeepTTL:
		case o.TTL > 0:
			e.SetExpires(e.Now().Add(o.TTL))
		default:
			e.SetExpires(o.Expires)
		}
		return nil
	})
	c.valueReply(c.scratch, found, err)
}

// The server computes expiries in unix ms, as both protocols give them;
// the store takes and gives times. Between the two, 0 is the zero Time
// (no expiry), and a negative time is past.
func expiryTime(ms int64) (t time.Time) {
	if ms != 0 {
		t = time.UnixMilli(ms)
	}
	return t
}

func unixMS(t time.Time) (ms int64) {
	if !t.IsZero() {
		ms = t.UnixMilli()
	}
	return ms
}

// SETEX key seconds value, PSETEX key milliseconds value
func cmdSetEx(c *respConn, args [][]byte)  { setEx(c, args, "setex", 1000) }
func cmdPSetEx(c *respConn, args [][]byte) { setEx(c, args, "psetex", 1) }

func setEx(c *respConn, args [][]byte, name string, unit int64) {
	n, ok := c.intArg(args[2])
	if !ok {
		return
	}
	var o sessiond.WriteOptions
	switch now := c.s.nowMS(); {
	case n <= 0 || n > (math.MaxInt64-now)/unit:
		c.w.Error("ERR invalid expire time in '" + name + "' command")
		return
	case n <= maxTTL/int64(time.Millisecond)/unit:
		o.TTL = time.Duration(n*unit) * time.Millisecond
	default: // beyond what a Duration holds: an absolute time
		o.Expires = expiryTime(now + n*unit)
	}
	if _, err := c.s.st.Write(str(args[1]), args[3], o); err != nil {
		c.storeError(err)
		return
	}
	c.w.OK()
}

// SETNX key value
func cmdSetNX(c *respConn, args [][]byte) {
	_, err := c.s.st.Write(str(args[1]), args[2], sessiond.WriteOptions{Cond: sessiond.IfAbsent})
	switch {
	case errors.Is(err, sessiond.ErrNotStored):
		c.w.Int(0)
	case err != nil:
		c.storeError(err)
	default:
		c.w.Int(1)
	}
}

// GETDEL key
func cmdGetDel(c *respConn, args [][]byte) {
	found := false
	_, err := c.s.st.Update(str(args[1]), func(e *sessiond.Entry) error {
		if found = e.Found(); found {
			c.scratch = append(c.scratch[:0], e.Value()...)
			e.Delete()
		}
		return nil
	})
	c.valueReply(c.scratch, found, err)
}

// valueReply answers a command that reads a key's value (GETDEL, GETEX,
// SET GET) with it, counting the read as Redis does.
func (c *respConn) valueReply(v []byte, found bool, err error) {
	switch {
	case err != nil:
		c.storeError(err)
	case !found:
		c.countLookup(false)
		c.w.Null()
	default:
		c.countLookup(true)
		c.w.Bulk(v)
	}
	c.trimScratch()
}

// countLookup counts a read of a key in INFO's keyspace_hits or
// keyspace_misses. Redis counts every command that reads a key (GET,
// MGET, STRLEN, EXISTS, TYPE, TTL, OBJECT, GETDEL, GETEX, SET GET), not
// the writes or MEMORY USAGE.
func (c *respConn) countLookup(found bool) {
	if found {
		c.stats.hits.Add(1)
	} else {
		c.stats.misses.Add(1)
	}
}

// GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]
func cmdGetEx(c *respConn, args [][]byte) {
	var exp expiry
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "persist") && (!exp.set || exp.persist):
			exp.persist, exp.set = true, true
		case !exp.persist && exp.option(a, args, i):
			i++
		default:
			c.w.Error(errSyntax)
			return
		}
	}
	key := str(args[1])
	if exp.val != nil {
		// A missing key answers null whatever the time, as in Redis,
		// which reads the time only for a key it found.
		if found, err := c.s.st.Exists(key); err != nil || !found {
			c.valueReply(nil, false, err)
			return
		}
		ttl, at, ok := c.parseExpiry(exp.opt, exp.val, "getex")
		if !ok {
			return
		}
		if ttl > 0 {
			at = c.s.nowMS() + ttl.Milliseconds()
		}
		exp.at = at
		if at <= c.s.nowMS() {
			exp.at = -1
		}
	}
	if !exp.set {
		v, _, found, err := c.s.st.Lookup(c.scratch[:0], key)
		c.scratch = v
		c.valueReply(v, found, err)
		return
	}
	found := false
	_, err := c.s.st.Update(key, func(e *sessiond.Entry) error {
		if found = e.Found(); found {
			c.scratch = append(c.scratch[:0], e.Value()...)
			e.SetExpires(expiryTime(exp.at))
		}
		return nil
	})
	c.valueReply(c.scratch, found, err)
}

// MGET key [key ...]
func cmdMGet(c *respConn, args [][]byte) {
	c.w.Array(len(args) - 1)
	for i, k := range args[1:] {
		c.s.prefetchGroupAt(args[1:], i, true)
		v, _, found, err := c.s.st.Lookup(c.scratch[:0], str(k))
		c.scratch = v
		if err != nil || !found {
			c.stats.misses.Add(1)
			c.w.Null()
			continue
		}
		c.stats.hits.Add(1)
		c.w.Bulk(v)
	}
	c.trimScratch()
}

// MSET key value [key value ...]. Each pair is written in turn: another
// client may see some of the pairs before the others.
func cmdMSet(c *respConn, args [][]byte) {
	if len(args)%2 == 0 {
		c.w.Error("ERR wrong number of arguments for 'mset' command")
		return
	}
	for i := 1; i < len(args); i += 2 {
		if _, err := c.s.st.Write(str(args[i]), args[i+1], sessiond.WriteOptions{}); err != nil {
			c.storeError(err)
			return
		}
	}
	c.w.OK()
}

// DEL key [key ...], UNLINK key [key ...]
func cmdDel(c *respConn, args [][]byte) {
	n := int64(0)
	for _, k := range args[1:] {
		found, err := c.s.st.Delete(str(k))
		if err != nil {
			c.storeError(err)
			return
		}
		if found {
			n++
		}
	}
	c.w.Int(n)
}

// EXISTS key [key ...]: a key named twice counts twice, as in Redis.
func cmdExists(c *respConn, args [][]byte) {
	n := int64(0)
	for _, k := range args[1:] {
		ok, _ := c.s.st.Exists(str(k))
		c.countLookup(ok)
		if ok {
			n++
		}
	}
	c.w.Int(n)
}

// TYPE key: every value is a string.
func cmdType(c *respConn, args [][]byte) {
	ok, _ := c.s.st.Exists(str(args[1]))
	c.countLookup(ok)
	if ok {
		c.w.Simple("string")
	} else {
		c.w.Simple("none")
	}
}
