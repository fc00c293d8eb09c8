package sessiond

import (
	"unsafe"

	"github.com/sessiond/sessiond/internal/prefetch"
)

// The server asks for the memory of a batch of commands' keys through
// internal/prefetch, which this file sets: the store's cache controls are
// no part of its API.
func init() {
	prefetch.Helps = func(st any) bool { return st.(*Store).prefetchHelps() }
	prefetch.Keys = func(st any, b prefetch.Batch) { st.(*Store).prefetch(b.Keys[:b.N], b.Values) }
}

// prefetchMost is the most of one record prefetch asks for: past it, the
// copy of a value streams well enough without help.
const prefetchMost = 4 << 10

// prefetchMinUsed is the least memory in use (Stats.UsedMemory) at which
// prefetch asks for anything: in a smaller store the records stay in the
// processor's cache, and prefetching costs more than it saves.
// BenchmarkGetBatch, 16 random keys at a time, prefetching whatever the
// size: with 8,192 sessions (8 MiB in use) prefetch made a lookup 124 ns →
// 162; with 32,768 (24 MiB), 225–235 → 197; with 262,144 (150 MiB),
// 573–592 → 276–280 (the machine of docs/BENCHMARKS.md, 32 MiB of L3).
const prefetchMinUsed = 16 << 20

// prefetchHelps reports whether prefetch may save time: whether the store
// is large enough for its records to fall out of the processor's cache.
// Below that size prefetch does nothing, and a caller can skip finding the
// keys to give it.
func (st *Store) prefetchHelps() bool { return st.mem.used.Load() >= st.prefetchMin }

// prefetch asks the processor for the memory that the commands on keys will
// touch, so that their cache misses overlap instead of coming one after
// another: call it with the keys of the commands a client sent together,
// then run them. With values, it asks for whole records, for commands that
// read the value (GET); without, only for the start of each record, which
// holds the key and what a write or an expiry changes. It changes nothing,
// and saves time only when the store is larger than the processor's cache
// (prefetchHelps; it does nothing otherwise) and there is more than one
// key.
//
// It goes over the keys in rounds, each asking for what the last one
// brought in made known: their index slots, then the start of their
// records, then the rest of the records.
func (st *Store) prefetch(keys []string, values bool) {
	if !st.prefetchHelps() {
		return
	}
	if len(keys) > prefetch.MaxKeys {
		keys = keys[:prefetch.MaxKeys]
	}
	var hashes [prefetch.MaxKeys]uint64
	for i, key := range keys {
		h := st.hash(key)
		hashes[i] = h
		st.prefetchShard(h, func(sh *shard, tag uint32) {
			x := &sh.idx
			if len(x.slots) > 0 {
				prefetch.Line(uintptr(unsafe.Pointer(&x.slots[x.home(tag)])))
			}
		})
	}
	for _, h := range hashes[:len(keys)] {
		st.prefetchShard(h, func(sh *shard, tag uint32) {
			if v := sh.firstOf(tag); v != nil {
				prefetch.Line(uintptr(unsafe.Pointer(&v[0])))
			}
		})
	}
	if !values {
		return
	}
	for _, h := range hashes[:len(keys)] {
		st.prefetchShard(h, func(sh *shard, tag uint32) {
			if v := sh.firstOf(tag); v != nil {
				p := uintptr(unsafe.Pointer(&v[0]))
				for off := 64; off < min(v.size(), len(v), prefetchMost); off += 64 {
					prefetch.Line(p + uintptr(off))
				}
			}
		})
	}
}

// prefetchShard runs fn on the shard of the key whose hash is h, with the
// key's tag, under the shard's lock, unless the store is closed (as lock
// does: Close gives the shards' memory back).
func (st *Store) prefetchShard(h uint64, fn func(sh *shard, tag uint32)) {
	sh := &st.shards[h&st.mask]
	sh.mu.Lock()
	if !st.closed.Load() {
		fn(sh, uint32(h>>32))
	}
	sh.mu.Unlock()
}

// firstOf returns the record of the first index entry with tag, which is
// the key's as a rule, or nil. It reads the index, not the record.
func (sh *shard) firstOf(tag uint32) view {
	x := &sh.idx
	for i := x.home(tag); i < len(x.slots); i++ {
		e := x.slots[i]
		if e == 0 || entryTag(e) > tag {
			return nil
		}
		if entryTag(e) == tag {
			return sh.at(entryLoc(e))
		}
	}
	return nil
}
