package server

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/memcache"
)

// The memcached commands, with memcached 1.6's semantics on the shared
// store. A record's cas unique is its Version.Time, which every write
// changes; a touch is a write to the store (it replicates), so touch and gat
// change the unique too, where memcached keeps it. Commands that read,
// change and write a key (incr, decr, append, prepend, cas, gat, touch) do
// it in one Store.Update, under the key's lock: a write another client
// made in between is never lost, and the command never fails for it.

// Replies memcached gives to failures of the store.
const (
	mcTooLarge    = "object too large for cache"
	mcOutOfMemory = "out of memory storing object"
	mcNonNumeric  = "cannot increment or decrement non-numeric value"
)

// maxRelativeExptime is the longest exptime memcached reads as seconds from
// now (30 days); a larger one is an absolute unix time.
const maxRelativeExptime = 60 * 60 * 24 * 30

func (m *mcConn) dispatch(cmd *memcache.Command) {
	if cmd.TooLarge {
		m.tooLarge(cmd)
		return
	}
	m.s.mon.feedMC(m.conn, cmd)
	if cmd.Op.IsStorage() {
		m.counts[mcCmdSet].Add(1)
	}
	switch cmd.Op {
	case memcache.Get, memcache.Gets, memcache.Version, memcache.Verbosity, memcache.Stats, memcache.Quit:
	default: // a change: its reply waits for the disk (see conn.uncommitted)
		m.uncommitted = m.s.commitReplies
	}
	switch cmd.Op {
	case memcache.Get, memcache.Gets, memcache.Gat, memcache.Gats:
		m.retrieve(cmd)
	case memcache.Set, memcache.Add, memcache.Replace:
		m.store(cmd)
	case memcache.Append, memcache.Prepend:
		m.concat(cmd)
	case memcache.Cas:
		m.cas(cmd)
	case memcache.Touch:
		m.touch(cmd)
	case memcache.Incr, memcache.Decr:
		m.incr(cmd)
	case memcache.Delete:
		m.delete(cmd)
	case memcache.FlushAll:
		m.flushAll(cmd)
	case memcache.Version:
		m.w.Line("VERSION " + memcachedVersion)
	case memcache.Verbosity:
		m.reply(cmd, memcache.OK) // sessiond's log level is its own setting
	case memcache.Stats:
		m.statsCmd(cmd)
	case memcache.Quit:
		m.quit = true
	}
	m.trimScratch()
}

// reply writes s unless the command asked for no reply.
func (m *mcConn) reply(cmd *memcache.Command, s string) {
	if !cmd.NoReply {
		m.w.Line(s)
	}
}

// serverError writes "SERVER_ERROR msg" unless the command asked for no
// reply: memcached keeps quiet about errors too then.
func (m *mcConn) serverError(cmd *memcache.Command, msg string) {
	if !cmd.NoReply {
		m.w.ServerError(msg)
	}
}

// storeError replies to an error from the store.
func (m *mcConn) storeError(cmd *memcache.Command, err error) {
	f := m.s.storeFailure(err)
	if f.mcN != mcNone {
		m.counts[f.mcN].Add(1)
	}
	m.serverError(cmd, f.mc)
}

// lookup reads key into the scratch buffer, after prefix.
func (m *mcConn) lookup(key string) ([]byte, sessiond.Item, bool, error) {
	v, it, found, err := m.s.st.Lookup(m.scratch[:0], key)
	m.scratch = v
	return v, it, found, err
}

// get, gets key [key ...]; gat, gats exptime key [key ...]: a VALUE for
// each key found, then END. gat and gats touch the keys they find too. A
// line of many keys comes in batches (cmd.More): END follows the last.
func (m *mcConn) retrieve(cmd *memcache.Command) {
	touch := cmd.Op == memcache.Gat || cmd.Op == memcache.Gats
	count, hits, misses := mcCmdGet, mcGetHits, mcGetMisses
	var exp int64
	if touch {
		count, hits, misses = mcCmdTouch, mcTouchHits, mcTouchMisses
		exp = m.s.mcExpires(cmd.Exptime)
	}
	for i, k := range cmd.Keys {
		m.s.prefetchGroupAt(cmd.Keys, i, true)
		m.counts[count].Add(1)
		var v []byte
		var it sessiond.Item
		var found bool
		var err error
		if touch {
			v, it, found, err = m.getAndTouch(str(k), exp)
			// Its reply may go out in a later flush than the one the
			// command's first change set this for.
			m.uncommitted = m.s.commitReplies
		} else {
			v, it, found, err = m.lookup(str(k))
		}
		switch {
		case err != nil:
			// The reply ends here, as memcached's does at an error:
			// the keys of later batches go unanswered.
			m.storeError(cmd, err)
			m.rd.SkipKeys()
			return
		case !found:
			m.counts[misses].Add(1)
			m.stats.misses.Add(1)
			continue
		}
		m.counts[hits].Add(1)
		m.stats.hits.Add(1)
		if cmd.Op == memcache.Gets || cmd.Op == memcache.Gats {
			m.w.ValueCAS(k, it.Flags, v, it.Version.Time)
		} else {
			m.w.Value(k, it.Flags, v)
		}
	}
	if !cmd.More {
		m.w.Line(memcache.End)
	}
}

// getAndTouch reads key and gives it a new expiry in one step of the
// store. The Item returned is the record's after the touch, so gats gives
// the cas unique a later cas needs; when the new expiry deleted the key, it
// is the record's as read, with the value.
func (m *mcConn) getAndTouch(key string, expires int64) ([]byte, sessiond.Item, bool, error) {
	var read sessiond.Item
	found := false
	it, err := m.s.st.Update(key, func(e *sessiond.Entry) error {
		if found = e.Found(); found {
			m.scratch = append(m.scratch[:0], e.Value()...)
			read = e.Item()
			e.SetExpires(expiryTime(expires))
		}
		return nil
	})
	if it.Version.IsZero() {
		it = read
	}
	return m.scratch, it, found, err
}

// set, add, replace key flags exptime bytes [noreply]
func (m *mcConn) store(cmd *memcache.Command) {
	o := sessiond.WriteOptions{Expires: expiryTime(m.s.mcExpires(cmd.Exptime)), Flags: cmd.Flags}
	switch cmd.Op {
	case memcache.Add:
		o.Cond = sessiond.IfAbsent
	case memcache.Replace:
		o.Cond = sessiond.IfPresent
	}
	_, err := m.s.st.Write(str(cmd.Key), cmd.Data, o)
	switch {
	case err == nil:
		m.counts[mcTotalItems].Add(1)
		m.reply(cmd, memcache.Stored)
	case errors.Is(err, sessiond.ErrNotStored):
		m.reply(cmd, memcache.NotStored)
	default:
		m.failedSet(cmd)
		m.storeError(cmd, err)
	}
}

// tooLarge answers a storage command whose block was over the value size.
// memcached does not count it in cmd_set.
func (m *mcConn) tooLarge(cmd *memcache.Command) {
	m.counts[mcStoreTooLarge].Add(1)
	m.failedSet(cmd)
	m.serverError(cmd, mcTooLarge)
}

// failedSet deletes the key a set could not write, as memcached does: a
// client that set a new value must not go on reading the old one.
func (m *mcConn) failedSet(cmd *memcache.Command) {
	if cmd.Op == memcache.Set {
		m.s.st.Delete(str(cmd.Key))
	}
}

// cas key flags exptime bytes cas [noreply]
func (m *mcConn) cas(cmd *memcache.Command) {
	var hit, miss bool
	expires := expiryTime(m.s.mcExpires(cmd.Exptime))
	_, err := m.s.st.Update(str(cmd.Key), func(e *sessiond.Entry) error {
		hit, miss = false, !e.Found()
		if miss || e.Item().Version.Time != cmd.Cas {
			return nil
		}
		hit = true
		e.Set(cmd.Data)
		e.SetFlags(cmd.Flags)
		e.SetExpires(expires)
		return nil
	})
	switch {
	case err != nil:
		m.storeError(cmd, err)
	case miss:
		m.counts[mcCasMisses].Add(1)
		m.reply(cmd, memcache.NotFound)
	case !hit:
		m.counts[mcCasBadval].Add(1)
		m.reply(cmd, memcache.Exists)
	default:
		m.counts[mcCasHits].Add(1)
		m.counts[mcTotalItems].Add(1)
		m.reply(cmd, memcache.Stored)
	}
}

// modify replaces the value of key, if it exists, with what fn makes of
// it in m.scratch, in one step of the store; the key keeps its expiry
// and flags.
func (m *mcConn) modify(key string, fn func(cur []byte) error) (found bool, err error) {
	_, err = m.s.st.Update(key, func(e *sessiond.Entry) error {
		if found = e.Found(); !found {
			return nil
		}
		if err := fn(e.Value()); err != nil {
			return err
		}
		e.Set(m.scratch)
		return nil
	})
	return found, err
}

// append, prepend key flags exptime bytes [noreply]: the flags and exptime
// are ignored, as in memcached; the key keeps its own.
func (m *mcConn) concat(cmd *memcache.Command) {
	found, err := m.modify(str(cmd.Key), func(cur []byte) error {
		if cmd.Op == memcache.Append {
			m.scratch = append(append(m.scratch[:0], cur...), cmd.Data...)
		} else {
			m.scratch = append(append(m.scratch[:0], cmd.Data...), cur...)
		}
		return nil
	})
	switch {
	case errors.Is(err, sessiond.ErrValueTooLarge), errors.Is(err, sessiond.ErrOutOfMemory):
		// memcached cannot allocate the longer item either.
		m.reply(cmd, memcache.NotStored)
	case err != nil:
		m.storeError(cmd, err)
	case !found:
		m.reply(cmd, memcache.NotStored)
	default:
		m.counts[mcTotalItems].Add(1)
		m.reply(cmd, memcache.Stored)
	}
}

// incr, decr key delta [noreply]: incr wraps at 2^64, decr stops at 0, as
// in memcached.
func (m *mcConn) incr(cmd *memcache.Command) {
	hits, misses := mcIncrHits, mcIncrMisses
	if cmd.Op == memcache.Decr {
		hits, misses = mcDecrHits, mcDecrMisses
	}
	var n uint64
	found, err := m.modify(str(cmd.Key), func(cur []byte) error {
		var ok bool
		if n, ok = memcache.ParseValue(cur); !ok {
			return errNonNumeric
		}
		switch {
		case cmd.Op == memcache.Incr:
			n += cmd.Delta
		case cmd.Delta > n:
			n = 0
		default:
			n -= cmd.Delta
		}
		m.scratch = strconv.AppendUint(m.scratch[:0], n, 10)
		return nil
	})
	switch {
	case errors.Is(err, errNonNumeric):
		if !cmd.NoReply {
			m.w.ClientError(mcNonNumeric)
		}
	case err != nil:
		m.storeError(cmd, err)
	case !found:
		m.counts[misses].Add(1)
		m.reply(cmd, memcache.NotFound)
	default:
		m.counts[hits].Add(1)
		if !cmd.NoReply {
			m.w.Number(n)
		}
	}
}

// errNonNumeric stops an incr of a value that is not a number.
var errNonNumeric = errors.New(mcNonNumeric)

// touch key exptime [noreply]
func (m *mcConn) touch(cmd *memcache.Command) {
	m.counts[mcCmdTouch].Add(1)
	expires := expiryTime(m.s.mcExpires(cmd.Exptime))
	found := false
	_, err := m.s.st.Update(str(cmd.Key), func(e *sessiond.Entry) error {
		if found = e.Found(); found {
			e.SetExpires(expires)
		}
		return nil
	})
	m.found(cmd, found, err, mcTouchHits, mcTouchMisses, memcache.Touched)
}

// delete key [noreply]
func (m *mcConn) delete(cmd *memcache.Command) {
	found, err := m.s.st.Delete(str(cmd.Key))
	m.found(cmd, found, err, mcDeleteHits, mcDeleteMisses, memcache.Deleted)
}

// found replies to a command that found its key, or NOT_FOUND, and counts
// which.
func (m *mcConn) found(cmd *memcache.Command, found bool, err error, hit, miss mcCounter, reply string) {
	switch {
	case err != nil:
		m.storeError(cmd, err)
	case found:
		m.counts[hit].Add(1)
		m.reply(cmd, reply)
	default:
		m.counts[miss].Add(1)
		m.reply(cmd, memcache.NotFound)
	}
}

// flush_all [delay] [noreply]: everything is gone now, or at the time the
// delay says; a later flush_all replaces a pending one.
func (m *mcConn) flushAll(cmd *memcache.Command) {
	m.counts[mcCmdFlush].Add(1)
	var d time.Duration
	if cmd.Exptime > 0 {
		ms := m.s.mcExpires(cmd.Exptime) - m.s.storeNow().UnixMilli()
		d = time.Duration(min(ms, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	}
	if err := m.s.flushAfter(d); err != nil {
		m.storeError(cmd, err)
		return
	}
	m.reply(cmd, memcache.OK)
}

// mcExpires converts a memcached exptime to an absolute expiry in unix ms,
// as memcached reads it: 0 is none, up to 30 days is seconds from now, more
// is a unix time (one past expires the key at once), and a negative one is
// already expired (-1, which the store takes as past).
func (s *Server) mcExpires(exptime int64) int64 {
	switch {
	case exptime == 0:
		return 0
	case exptime < 0:
		return -1
	case exptime <= maxRelativeExptime:
		return s.storeNow().UnixMilli() + exptime*1000
	case exptime > math.MaxInt64/1000:
		return math.MaxInt64
	}
	return exptime * 1000
}

// storeNow is the store's clock, which its expiry follows: every expiry
// the server computes, over either protocol, reads it, so that a store
// with Options.Now moves them all.
func (s *Server) storeNow() time.Time {
	if s.st == nil {
		return time.Now()
	}
	return s.st.Now()
}

// nowMS is storeNow in unix milliseconds, as expiries are kept.
func (s *Server) nowMS() int64 { return s.storeNow().UnixMilli() }
