package server

import "github.com/sessiond/sessiond/internal/prefetch"

// The store is asked ahead for the memory the commands of a batch will
// touch, so that their cache misses overlap instead of coming one after
// another: each protocol's reader calls its prefetch after a read, and a
// command of many keys prefetches them a group at a time.

// prefetch asks the store for the memory the commands just read will touch,
// when they are more than one with a key and the store is large enough for
// it to help (internal/prefetch): their cache misses then
// overlap instead of coming one after another. It halves the time of the
// lookups of a batch of GETs (BenchmarkGetBatch) and took a third off the
// server's CPU per GET at pipeline 16 (docs/BENCHMARKS.md).
func (c *respConn) prefetch() {
	if !c.authed || !prefetch.Helps(c.s.st) {
		return
	}
	var names, args [prefetch.MaxKeys][]byte
	n := 0
	c.rd.Ahead(len(names), func(name, arg []byte) {
		names[n], args[n] = name, arg
		n++
	})
	if n < 2 {
		return
	}
	var b prefetch.Batch
	for i := range n {
		cmd := c.s.lookup(names[i])
		if cmd == nil || cmd.first != 1 {
			continue
		}
		b.Add(str(args[i]))
		b.Values = b.Values || cmd.flags&readsValue != 0
	}
	if b.N >= 2 {
		prefetch.Keys(c.s.st, b)
	}
}

// prefetch asks the store for the memory the commands just read will touch,
// when they have more than one key, as respConn.prefetch does.
func (m *mcConn) prefetch() {
	if !prefetch.Helps(m.s.st) {
		return
	}
	var b prefetch.Batch
	m.rd.Ahead(prefetch.MaxKeys, func(key []byte, value bool) {
		b.Add(str(key))
		b.Values = b.Values || value
	})
	if b.N >= 2 {
		prefetch.Keys(m.s.st, b)
	}
}

// prefetchGroup is how many keys of one command (MGET, a memcached get of
// many keys) are prefetched at a time, ahead of their lookups.
const prefetchGroup = 16

// prefetchGroupAt prefetches keys[i:i+prefetchGroup] if i starts such a
// group in a command of more than one key (internal/prefetch): call it
// before looking up keys[i].
func (s *Server) prefetchGroupAt(keys [][]byte, i int, values bool) {
	if len(keys) < 2 || i%prefetchGroup != 0 || !prefetch.Helps(s.st) {
		return
	}
	b := prefetch.Batch{Values: values}
	for _, k := range keys[i:min(i+prefetchGroup, len(keys))] {
		b.Add(str(k))
	}
	prefetch.Keys(s.st, b)
}
