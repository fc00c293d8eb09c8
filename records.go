package sessiond

import "unsafe"

// Records calls fn for each record the store holds, tombstones included
// (Deleted set) and expired records left out, from cursor on: start with 0
// and continue from the cursor it returns until that is 0. Each call visits
// about limit records (finishing a run of equal hash tags past it) and
// holds one partition's lock while fn runs, so fn must be quick and must
// not call the store; rec and rec.Value are valid only during fn's call.
//
// It is how a cluster node streams its whole set to a joining node and
// computes repair digests. Every record present for the whole visit is seen
// exactly once; records written or deleted while it goes on may or may not
// be, and their replication covers them.
func (r Replica) Records(cursor uint64, limit int, fn func(rec *Record)) (next uint64, err error) {
	return r.st.records(cursor, limit, fn)
}

// records is Records, for the store's own snapshots too.
func (st *Store) records(cursor uint64, limit int, fn func(rec *Record)) (next uint64, err error) {
	if limit <= 0 {
		limit = 100
	}
	visited := 0
	for s := cursor >> 32; s < uint64(len(st.shards)); s++ {
		sh := &st.shards[s]
		sh.mu.Lock()
		if st.closed.Load() {
			sh.mu.Unlock()
			return 0, ErrClosed
		}
		var last uint64
		last, visited = sh.records(uint32(cursor), visited, limit, st.nowMS(), fn)
		sh.mu.Unlock()
		if last <= 0xffffffff {
			return s<<32 + last + 1, nil
		}
		cursor = 0
	}
	return 0, nil
}

// records visits the shard's records from tag from on, counting on from
// visited, until limit are visited and the run of the tag it stopped in is
// finished. It returns that tag (more than 32 bits: the shard is done) and
// the count.
func (sh *shard) records(from uint32, visited, limit int, now int64, fn func(rec *Record)) (uint64, int) {
	x := &sh.idx
	if x.n == 0 {
		return 1 << 32, visited
	}
	var rec Record
	for i := x.home(from); i < len(x.slots); i++ {
		e := x.slots[i]
		if e == 0 || entryTag(e) < from {
			continue
		}
		if v := sh.at(entryLoc(e)); !v.expired(now) {
			visited++
			it := v.item()
			k := v.key()
			rec = Record{
				Key:   unsafe.String(unsafe.SliceData(k), len(k)),
				Value: v.value(), Expires: it.Expires, Flags: it.Flags, Version: it.Version, Deleted: v.tomb(),
			}
			fn(&rec)
		}
		if visited >= limit {
			t := entryTag(e)
			if i+1 < len(x.slots) && x.slots[i+1] != 0 && entryTag(x.slots[i+1]) == t {
				continue // finish this tag first
			}
			return uint64(t), visited
		}
	}
	return 1 << 32, visited
}
