package server

import "github.com/sessiond/sessiond"

// The store is asked ahead for the memory the commands of a batch will
// touch, so that their cache misses overlap instead of coming one after
// another: each protocol's reader calls its prefetch after a read, and a
// command of many keys prefetches them a group at a time.

// prefetch asks the store for the memory the commands just read will touch,
// when they are more than one with a key and the store is large enough for
// it to help (sessiond.Store.PrefetchHelps): their cache misses then
// overlap instead of coming one after another. It halves the time of the
// lookups of a batch of GETs (BenchmarkGetBatch) and took a third off the
// server's CPU per GET at pipeline 16 (docs/BENCHMARKS.md).
func (c *respConn) prefetch() {
	if !c.authed || !c.s.st.PrefetchHelps() {
		return
	}
	var names, args [sessiond.MaxPrefetch][]byte
	n := 0
	c.rd.Ahead(len(names), func(name, arg []byte) {
		names[n], args[n] = name, arg
		n++
	})
	if n < 2 {
		return
	}
	var keys [sessiond.MaxPrefetch]string
	k, values := 0, false
	for i := range n {
		cmd := c.s.lookup(names[i])
		if cmd == nil || cmd.first != 1 {
			continue
		}
		keys[k] = str(args[i])
		k++
		values = values || cmd.flags&readsValue != 0
	}
	if k >= 2 {
		c.s.st.Prefetch(keys[:k], values)
	}
}

// prefetch asks the store for the memory the commands just read will touch,
// when they have more than one key, as respConn.prefetch does.
func (m *mcConn) prefetch() {
	if !m.s.st.PrefetchHelps() {
		return
	}
	var keys [sessiond.MaxPrefetch]string
	n, values := 0, false
	m.rd.Ahead(len(keys), func(key []byte, value bool) {
		keys[n] = str(key)
		n++
		values = values || value
	})
	if n >= 2 {
		m.s.st.Prefetch(keys[:n], values)
	}
}

// prefetchGroup is how many keys of one command (MGET, a memcached get of
// many keys) are prefetched at a time, ahead of their lookups.
const prefetchGroup = 16

// prefetchGroupAt prefetches keys[i:i+prefetchGroup] if i starts such a
// group in a command of more than one key (sessiond.Store.Prefetch): call
// it before looking up keys[i].
func (s *Server) prefetchGroupAt(keys [][]byte, i int, values bool) {
	if len(keys) < 2 || i%prefetchGroup != 0 || !s.st.PrefetchHelps() {
		return
	}
	var group [prefetchGroup]string
	n := 0
	for _, k := range keys[i:min(i+prefetchGroup, len(keys))] {
		group[n] = str(k)
		n++
	}
	s.st.Prefetch(group[:n], values)
}
