package sessiond

// Eviction works a segment at a time, which is what frees memory in a
// log-structured store: the victim's records are evicted or moved to the
// head, and the segment is freed.
//
//   - AllKeysLRU takes the oldest segment. Records read since they were
//     written get a second chance: they move to the head, their read bit
//     cleared (the CLOCK approximation of LRU).
//   - VolatileTTL takes the segment whose records expire soonest and evicts
//     the records in it that have an expiry; the others move.
//
// Tombstones are never evicted: dropping one could let a stale replica
// bring a deleted session back.

// maxEvictTries bounds the victims one allocation may take before it gives
// up with ErrOutOfMemory, so a store full of recently read records cannot
// spin.
const maxEvictTries = 64

// evict frees memory for shard sh, whose lock the caller holds: first from
// sh, then from any other shard that is not busy (TryLock, so two shards
// evicting for each other cannot deadlock). It reports whether it freed
// anything worth retrying for.
func (st *Store) evict(sh *shard, tries int) bool {
	if st.opts.Policy == NoEviction || tries >= maxEvictTries {
		return false
	}
	now := st.nowMS()
	if sh.evictOne(now) {
		return true
	}
	start := int(st.evictions.Load()) + tries
	for k := range st.shards {
		o := &st.shards[(start+k)&int(st.mask)]
		if o == sh || !o.mu.TryLock() {
			continue
		}
		ok := !st.closed.Load() && o.evictOne(now)
		o.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// evictOne evicts from one victim segment of the shard by its store's
// policy. It reports false when the shard has no victim.
func (sh *shard) evictOne(now int64) bool {
	var victim uint16
	var best *segment
	lru := sh.st.opts.Policy == AllKeysLRU
	for id, s := range sh.segs {
		if s == nil || uint16(id) == sh.head {
			continue
		}
		if lru {
			if best == nil || s.seq < best.seq {
				victim, best = uint16(id), s
			}
		} else if s.minExp != 0 && (best == nil || s.minExp < best.minExp) {
			victim, best = uint16(id), s
		}
	}
	if best == nil {
		return false
	}
	gone := sh.evacuate(victim, now, func(v view) bool {
		if v.tomb() {
			return false
		}
		if lru {
			return v.state()&recRef == 0
		}
		return v.expires() != 0
	})
	sh.st.evictions.Add(int64(gone))
	sh.settle(now)
	return true
}
