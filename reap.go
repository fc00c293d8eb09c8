package sessiond

import "time"

// Expired records are never returned: every read checks the expiry. Their
// memory is reclaimed here, in the background. Each segment knows the
// earliest expiry among its records (a lower bound: touching a record only
// raises it), so a pass looks only at segments holding something that has
// expired, never at the whole store. A segment emptied by expiry is freed
// at once; one left a third dead is compacted.

func (st *Store) reapLoop() {
	defer close(st.done)
	t := time.NewTicker(st.opts.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-t.C:
			st.reap()
		}
	}
}

// reap reclaims the expired records of every shard and returns how many.
func (st *Store) reap() int {
	n := 0
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		if !st.closed.Load() {
			n += sh.reap(st.nowMS())
		}
		sh.mu.Unlock()
	}
	st.expirations.Add(int64(n))
	return n
}

func (sh *shard) reap(now int64) int {
	n := 0
	for id, s := range sh.segs {
		if s == nil || s.minExp == 0 || s.minExp > now {
			continue
		}
		n += sh.reapSegment(uint16(id), now)
	}
	// An idle shard should not keep a head segment of nothing but dead
	// records.
	if sh.head != 0 && sh.segs[sh.head].live == 0 {
		sh.free(sh.head)
	}
	sh.settle(now)
	return n
}

// reapSegment removes the segment's expired records and recomputes its
// earliest expiry.
func (sh *shard) reapSegment(id uint16, now int64) int {
	s := sh.segs[id]
	n := 0
	var minExp int64
	for off := 0; off < s.used; {
		loc := uint32(id)<<16 | uint32(off)
		v := view(s.buf[off:])
		off += v.space()
		if v.dead() {
			continue
		}
		e := v.expires()
		switch {
		case e == 0:
		case e <= now:
			sh.remove(sh.slotOf(loc, v.key()))
			if !v.tomb() {
				n++
			}
		case minExp == 0 || e < minExp:
			minExp = e
		}
	}
	s.minExp = minExp
	return n
}
