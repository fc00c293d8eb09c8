package sessiond

import (
	"math/rand/v2"
	"time"
)

// What an operator asks of the store's memory and expiries, for Redis's
// MEMORY USAGE and INFO keyspace's avg_ttl. Neither reads a record's value
// or marks it read: looking does not change what eviction would take.

// Usage returns the bytes key takes in the store, counted as MaxMemory
// counts them: the space its record takes in its segment (header, key,
// value, and the room a rewrite left it to grow into), or for a record
// larger than a segment the pages of its own block; plus its share of its
// shard's index, the table's bytes divided among the entries it holds
// (tombstones too), rounded down.
// The part of a segment no record uses yet is counted for no key. found is
// false for a key that is missing or expired.
func (st *Store) Usage(key string) (bytes int64, found bool, err error) {
	sh, tag, err := st.lock(key)
	if err != nil {
		return 0, false, err
	}
	defer sh.mu.Unlock()
	i := sh.find(tag, key)
	v := sh.live(i, st.nowMS())
	if v == nil {
		return 0, false, nil
	}
	loc := entryLoc(sh.idx.slots[i])
	if s := sh.seg(loc); s.large {
		bytes = int64(cap(s.buf))
	} else {
		bytes = int64(v.space())
	}
	x := &sh.idx
	share := int64(len(x.slots)) * 8 / int64(x.count) // rounded down: the shares add up to at most the table
	return bytes + share, true, nil
}

// SampleTTL estimates the average time to live of the keys that have an
// expiry, from up to n of them taken at random places in every shard, as
// Redis estimates INFO's avg_ttl from the keys its expiry cycle samples.
// sampled is how many it found; with none, avg is 0. It examines at most
// 4n index entries and 32n slots in all.
func (st *Store) SampleTTL(n int) (avg time.Duration, sampled int, err error) {
	if st.loading.Load() {
		return 0, 0, ErrLoading
	}
	perShard := max(1, (n+len(st.shards)-1)/len(st.shards))
	var sum int64
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		if st.closed.Load() {
			sh.mu.Unlock()
			return 0, 0, ErrClosed
		}
		s, k, _ := sh.sampleTTL(perShard, st.nowMS())
		sh.mu.Unlock()
		sum += s
		sampled += k
	}
	if sampled == 0 {
		return 0, 0, nil
	}
	return time.Duration(sum/int64(sampled)) * time.Millisecond, sampled, nil
}

// sampleTTL adds up the remaining ms of up to n live records with an
// expiry, read along the index from a random slot, and returns the sum,
// how many it read, and how many slots it looked at. It stops after 4n entries or 32n slots: the table never
// shrinks, so one that held many more keys than it does now is mostly
// empty, and a walk bounded by entries alone would read all of it. At the
// table's least load after growth (7/12), 32n slots hold more than 4n
// entries.
func (sh *shard) sampleTTL(n int, now int64) (sum int64, k, slots int) {
	x := &sh.idx
	if x.count == 0 || sh.vols == 0 {
		return 0, 0, 0
	}
	start := rand.IntN(len(x.slots))
	examined := 0
	for j := range min(len(x.slots), 32*n) {
		slots++
		e := x.slots[(start+j)%len(x.slots)]
		if e == 0 {
			continue
		}
		if examined++; examined > 4*n {
			break
		}
		v := sh.at(entryLoc(e))
		if v.tomb() || v.expires() == 0 || v.expired(now) {
			continue
		}
		sum += v.expires() - now
		if k++; k == n {
			break
		}
	}
	return sum, k, slots
}
