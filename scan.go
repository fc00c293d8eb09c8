package sessiond

import (
	"unsafe"

	"github.com/sessiond/sessiond/internal/glob"
)

// Scan iterates over the keys with Redis SCAN semantics. Start with cursor
// 0 and pass each returned next cursor back in; a next of 0 ends the scan.
// Every key present for the whole scan is returned at least once; keys
// added or removed during it may or may not be. count is how many keys to
// examine, a hint (<= 0 means 10); match is a Redis glob pattern that
// filters the examined keys ("" matches all), so a call may return no keys
// and a cursor to continue from.
//
// The cursor holds the partition in its upper 32 bits and a position in
// hash order in its lower 32: the store keeps no state between calls, and a
// cursor stays valid while the store grows or shrinks.
func (st *Store) Scan(cursor uint64, match string, count int) (keys []string, next uint64, err error) {
	if count <= 0 {
		count = 10
	}
	prefix := glob.LiteralPrefix(match)
	examined := 0
	for s := cursor >> 32; s < uint64(len(st.shards)); s++ {
		sh := &st.shards[s]
		sh.mu.Lock()
		if st.closed.Load() {
			sh.mu.Unlock()
			return nil, 0, ErrClosed
		}
		var last uint64
		keys, last, examined = sh.scan(uint32(cursor), keys, examined, count, match, prefix, st.nowMS())
		sh.mu.Unlock()
		if last <= 0xffffffff {
			return keys, s<<32 + last + 1, nil
		}
		cursor = 0
	}
	return keys, 0, nil
}

// scan examines the shard's entries from tag from on, appending live keys
// that match, until limit entries are examined in all. It returns the tag
// it stopped at; more than 32 bits means the shard is done. Entries with
// equal tags are examined together, so the next call can start past them.
func (sh *shard) scan(from uint32, keys []string, examined, limit int, match, prefix string, now int64) ([]string, uint64, int) {
	x := &sh.idx
	if x.n == 0 {
		return keys, 1 << 32, examined
	}
	for i := x.home(from); i < len(x.slots); i++ {
		e := x.slots[i]
		if e == 0 || entryTag(e) < from {
			continue
		}
		examined++
		v := sh.at(entryLoc(e))
		if !v.tomb() && !v.expired(now) {
			k := v.key()
			ks := unsafe.String(unsafe.SliceData(k), len(k))
			if match == "" || (len(ks) >= len(prefix) && ks[:len(prefix)] == prefix && glob.Match(match, ks)) {
				keys = append(keys, string(k))
			}
		}
		if examined >= limit {
			t := entryTag(e)
			if n := x.slots[min(i+1, len(x.slots)-1)]; i+1 < len(x.slots) && n != 0 && entryTag(n) == t {
				continue // finish this tag first
			}
			return keys, uint64(t), examined
		}
	}
	return keys, 1 << 32, examined
}
