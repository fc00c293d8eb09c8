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
// change the unique too, where memcached keeps it. Commands that read, change and write a key (cas, append, incr,
// gat) write with IfVersion, so that a write another client made in between
// is never lost: they retry, at most mcRetries times.

// mcRetries bounds the read-modify-write attempts of one command.
const mcRetries = 16

// Replies memcached gives to failures of the store.
const (
	mcTooLarge    = "object too large for cache"
	mcOutOfMemory = "out of memory storing object"
	mcNonNumeric  = "cannot increment or decrement non-numeric value"
	mcContended   = "the key kept changing; try again"
)

// maxRelativeExptime is the longest exptime memcached reads as seconds from
// now (30 days); a larger one is an absolute unix time.
const maxRelativeExptime = 60 * 60 * 24 * 30

func (m *mcConn) dispatch(cmd *memcache.Command) {
	if cmd.TooLarge {
		m.tooLarge(cmd)
		return
	}
	if cmd.Op.IsStorage() {
		m.counts[mcCmdSet].Add(1)
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
		m.stats(cmd)
	case memcache.Quit:
		m.c.quit = true
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
	switch {
	case errors.Is(err, sessiond.ErrValueTooLarge):
		m.counts[mcStoreTooLarge].Add(1)
		m.serverError(cmd, mcTooLarge)
	case errors.Is(err, sessiond.ErrOutOfMemory):
		m.counts[mcStoreNoMemory].Add(1)
		m.serverError(cmd, mcOutOfMemory)
	case errors.Is(err, sessiond.ErrClosed):
		m.serverError(cmd, "server is shutting down")
	case errors.Is(err, sessiond.ErrNotReplicated):
		// As RESP's NOREPLICAS: the write is made here, not on enough
		// replicas.
		m.serverError(cmd, noReplicasError(err))
	default:
		m.serverError(cmd, err.Error())
	}
}

// lookup reads key into the scratch buffer, after prefix.
func (m *mcConn) lookup(prefix []byte, key string) ([]byte, sessiond.Item, bool, error) {
	v, it, found, err := m.s.st.Lookup(append(m.scratch[:0], prefix...), key)
	m.scratch = v
	return v, it, found, err
}

// lookupFor reads key for a command that changes it. If the key is missing,
// it replies with missReply and counts miss (unless noCounter); if the store
// fails, with the error. It reports whether the command goes on.
func (m *mcConn) lookupFor(cmd *memcache.Command, prefix []byte, key string, miss mcCounter, missReply string) ([]byte, sessiond.Item, bool) {
	v, it, found, err := m.lookup(prefix, key)
	switch {
	case err != nil:
		m.storeError(cmd, err)
		return nil, it, false
	case !found:
		if miss != noCounter {
			m.counts[miss].Add(1)
		}
		m.reply(cmd, missReply)
		return nil, it, false
	}
	return v, it, true
}

// trimScratch drops a scratch buffer that a large value grew.
func (m *mcConn) trimScratch() {
	if cap(m.scratch) > 64<<10 {
		m.scratch = nil
	}
}

// get, gets key [key ...]; gat, gats exptime key [key ...]: a VALUE for
// each key found, then END. gat and gats touch the keys they find too.
func (m *mcConn) retrieve(cmd *memcache.Command) {
	touch := cmd.Op == memcache.Gat || cmd.Op == memcache.Gats
	count, hits, misses := mcCmdGet, mcGetHits, mcGetMisses
	var exp int64
	if touch {
		count, hits, misses = mcCmdTouch, mcTouchHits, mcTouchMisses
		exp = m.s.mcExpires(cmd.Exptime)
	}
	for _, k := range cmd.Keys {
		m.counts[count].Add(1)
		var v []byte
		var it sessiond.Item
		var found bool
		var err error
		if touch {
			v, it, found, err = m.getAndTouch(str(k), exp)
		} else {
			v, it, found, err = m.lookup(nil, str(k))
		}
		switch {
		case err != nil:
			m.storeError(cmd, err)
			return
		case !found:
			m.counts[misses].Add(1)
			m.c.stats.misses.Add(1)
			continue
		}
		m.counts[hits].Add(1)
		m.c.stats.hits.Add(1)
		if cmd.Op == memcache.Gets || cmd.Op == memcache.Gats {
			m.w.ValueCAS(k, it.Flags, v, it.Version.Time)
		} else {
			m.w.Value(k, it.Flags, v)
		}
	}
	m.w.Line(memcache.End)
}

// getAndTouch reads key and gives it a new expiry in one step: it writes
// the value back, unchanged, with the new expiry if nothing wrote the key
// in between. The Item returned is the record's after the touch, so gats
// gives the cas unique a later cas needs.
func (m *mcConn) getAndTouch(key string, expires int64) ([]byte, sessiond.Item, bool, error) {
	for range mcRetries {
		v, it, found, err := m.lookup(nil, key)
		if err != nil || !found {
			return nil, it, false, err
		}
		nit, err := m.s.st.Write(key, v, sessiond.WriteOptions{Expires: expires, Flags: it.Flags, Cond: sessiond.IfVersion, Version: it.Version})
		switch {
		case errors.Is(err, sessiond.ErrNotStored):
			continue
		case err != nil:
			return nil, it, false, err
		case !nit.Version.IsZero():
			it = nit // zero when the new expiry deleted it: the value read is returned
		}
		return v, it, true, nil
	}
	return nil, sessiond.Item{}, false, nil
}

// set, add, replace key flags exptime bytes [noreply]
func (m *mcConn) store(cmd *memcache.Command) {
	o := sessiond.WriteOptions{Expires: m.s.mcExpires(cmd.Exptime), Flags: cmd.Flags}
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
	key := str(cmd.Key)
	_, it, ok := m.lookupFor(cmd, nil, key, mcCasMisses, memcache.NotFound)
	if !ok {
		return
	}
	if it.Version.Time != cmd.Cas {
		m.counts[mcCasBadval].Add(1)
		m.reply(cmd, memcache.Exists)
		return
	}
	o := sessiond.WriteOptions{Expires: m.s.mcExpires(cmd.Exptime), Flags: cmd.Flags, Cond: sessiond.IfVersion, Version: it.Version}
	_, err := m.s.st.Write(key, cmd.Data, o)
	switch {
	case errors.Is(err, sessiond.ErrNotStored):
		// Written, or deleted, since the lookup.
		if ok, _ := m.s.st.Exists(key); !ok {
			m.counts[mcCasMisses].Add(1)
			m.reply(cmd, memcache.NotFound)
			return
		}
		m.counts[mcCasBadval].Add(1)
		m.reply(cmd, memcache.Exists)
	case err != nil:
		m.storeError(cmd, err)
	default:
		m.counts[mcCasHits].Add(1)
		m.counts[mcTotalItems].Add(1)
		m.reply(cmd, memcache.Stored)
	}
}

// append, prepend key flags exptime bytes [noreply]: the flags and exptime
// are ignored, as in memcached; the key keeps its own.
func (m *mcConn) concat(cmd *memcache.Command) {
	key := str(cmd.Key)
	prefix := cmd.Data
	if cmd.Op == memcache.Append {
		prefix = nil
	}
	for range mcRetries {
		v, it, ok := m.lookupFor(cmd, prefix, key, noCounter, memcache.NotStored)
		if !ok {
			return
		}
		if cmd.Op == memcache.Append {
			v = append(v, cmd.Data...)
			m.scratch = v
		}
		_, err := m.s.st.Write(key, v, sessiond.WriteOptions{KeepTTL: true, Flags: it.Flags, Cond: sessiond.IfVersion, Version: it.Version})
		switch {
		case errors.Is(err, sessiond.ErrNotStored):
			continue
		case errors.Is(err, sessiond.ErrValueTooLarge), errors.Is(err, sessiond.ErrOutOfMemory):
			// memcached cannot allocate the longer item either.
			m.reply(cmd, memcache.NotStored)
		case err != nil:
			m.storeError(cmd, err)
		default:
			m.counts[mcTotalItems].Add(1)
			m.reply(cmd, memcache.Stored)
		}
		return
	}
	m.serverError(cmd, mcContended)
}

// incr, decr key delta [noreply]: incr wraps at 2^64, decr stops at 0, as
// in memcached.
func (m *mcConn) incr(cmd *memcache.Command) {
	hits, misses := mcIncrHits, mcIncrMisses
	if cmd.Op == memcache.Decr {
		hits, misses = mcDecrHits, mcDecrMisses
	}
	key := str(cmd.Key)
	for range mcRetries {
		v, it, ok := m.lookupFor(cmd, nil, key, misses, memcache.NotFound)
		if !ok {
			return
		}
		n, ok := memcache.ParseValue(v)
		switch {
		case !ok:
			if !cmd.NoReply {
				m.w.ClientError(mcNonNumeric)
			}
			return
		case cmd.Op == memcache.Incr:
			n += cmd.Delta
		case cmd.Delta > n:
			n = 0
		default:
			n -= cmd.Delta
		}
		m.scratch = strconv.AppendUint(m.scratch[:0], n, 10)
		_, err := m.s.st.Write(key, m.scratch, sessiond.WriteOptions{KeepTTL: true, Flags: it.Flags, Cond: sessiond.IfVersion, Version: it.Version})
		switch {
		case errors.Is(err, sessiond.ErrNotStored):
			continue
		case err != nil:
			m.storeError(cmd, err)
		default:
			m.counts[hits].Add(1)
			if !cmd.NoReply {
				m.w.Number(n)
			}
		}
		return
	}
	m.serverError(cmd, mcContended)
}

// touch key exptime [noreply]
func (m *mcConn) touch(cmd *memcache.Command) {
	m.counts[mcCmdTouch].Add(1)
	found, err := m.s.st.Expire(str(cmd.Key), m.s.mcExpires(cmd.Exptime))
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
	m.s.flushAfter(d)
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

// storeNow is the store's clock, which its expiry follows.
func (s *Server) storeNow() time.Time {
	if s.storeOpts.Now != nil {
		return s.storeOpts.Now()
	}
	return time.Now()
}
