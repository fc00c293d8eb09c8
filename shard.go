package sessiond

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/sessiond/sessiond/internal/prefetch"
)

// segment is a block of records appended one after another. Only the
// shard's head segment takes new records; the others are sealed and only
// lose records, until compaction moves their survivors to the head and
// frees them.
type segment struct {
	buf    []byte
	used   int    // bytes written
	dead   int    // bytes of dead records
	live   int    // records not dead, tombstones included
	minExp int64  // no live record expires before this; 0: none expires
	seq    uint64 // order of creation, for the LRU policy
	large  bool   // holds one record larger than segmentSize
}

func (s *segment) noteExpiry(e int64) {
	if e != 0 && (s.minExp == 0 || e < s.minExp) {
		s.minExp = e
	}
}

// shard is one independently locked partition of the store. Locations are
// the segment id in the upper 16 bits and the byte offset in the lower 16.
type shard struct {
	mu      sync.Mutex
	st      *Store
	idx     index
	segs    []*segment // by id; id 0 is never used, so location 0 is free to mean "empty"
	freeIDs []uint16
	head    uint16
	seq     uint64
	pending []uint16 // segments that lost records since the last settle
	keys    int      // live records, tombstones excluded
	vols    int      // live records with an expiry
	tombs   int
	bytes   int64   // stored size of live records and tombstones
	newest  Version // highest version counted in since the last reset
	entry   Entry   // Update's, while mu is held
	_       [64]byte
}

const maxSegments = 1 << 16

var errShardFull = fmt.Errorf("%w: shard has no free segment ids", ErrOutOfMemory)

func (sh *shard) at(loc uint32) view {
	s := sh.segs[loc>>16]
	return view(s.buf[loc&0xffff:])
}

func (sh *shard) seg(loc uint32) *segment { return sh.segs[loc>>16] }

// find returns the index slot of key, or -1.
func (sh *shard) find(tag uint32, key string) int {
	x := &sh.idx
	for i := x.home(tag); i < len(x.slots); i++ {
		e := x.slots[i]
		if e == 0 {
			return -1
		}
		t := entryTag(e)
		if t > tag {
			return -1
		}
		if t == tag {
			v := sh.at(entryLoc(e))
			if string(v.key()) == key {
				return i
			}
		}
	}
	return -1
}

// live returns the record in index slot i if it is live — neither a
// tombstone nor expired at now — and nil otherwise, or if i < 0.
func (sh *shard) live(i int, now int64) view {
	if i < 0 {
		return nil
	}
	v := sh.at(entryLoc(sh.idx.slots[i]))
	if v.tomb() || v.expired(now) {
		return nil
	}
	return v
}

// slotOf returns the index slot that points at loc, whose record has the
// given key. The record must be indexed.
func (sh *shard) slotOf(loc uint32, key []byte) int {
	return sh.slotAt(uint32(sh.st.hash(unsafe.String(unsafe.SliceData(key), len(key)))>>32), loc)
}

// slotAt returns the index slot that points at loc, whose key has the
// given tag. The record must be indexed.
func (sh *shard) slotAt(tag, loc uint32) int {
	x := &sh.idx
	for i := x.home(tag); i < len(x.slots); i++ {
		if entryLoc(x.slots[i]) == loc {
			return i
		}
	}
	panic("sessiond: index lost a record")
}

// insert adds a new index entry, growing the table as needed.
func (sh *shard) insert(tag, loc uint32) { sh.idx.insert(makeEntry(tag, loc), &sh.st.mem) }

// sliceWords views a block of mapped memory, which is page-aligned, as
// 64-bit words.
func sliceWords(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), cap(b)/8)[:len(b)/8]
}

// sliceBytes is the inverse of sliceWords, keeping the block's capacity so
// that it can be unmapped whole.
func sliceBytes(w []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), cap(w)*8)[:len(w)*8]
}

// newID returns an unused segment id.
func (sh *shard) newID() (uint16, error) {
	if n := len(sh.freeIDs); n > 0 {
		id := sh.freeIDs[n-1]
		sh.freeIDs = sh.freeIDs[:n-1]
		return id, nil
	}
	if len(sh.segs) == 0 {
		sh.segs = append(sh.segs, nil) // id 0 is never used
	}
	if len(sh.segs) >= maxSegments {
		return 0, errShardFull
	}
	sh.segs = append(sh.segs, nil)
	return uint16(len(sh.segs) - 1), nil
}

// alloc reserves size bytes for a new record and returns its location and
// bytes. Unless force is set, it holds the memory cap, evicting by the
// store's policy. It may evict and move other records: index slots found
// before it are stale after it.
func (sh *shard) alloc(size int, force bool) (uint32, []byte, error) {
	if size > segmentSize {
		id, err := sh.newID()
		if err != nil {
			return 0, nil, err
		}
		var b []byte
		for tries := 0; ; tries++ {
			b, err = sh.st.mem.block(size, force)
			if err == nil || !errors.Is(err, errLimit) || !sh.st.evict(sh, tries) {
				break
			}
		}
		if err != nil {
			sh.freeIDs = append(sh.freeIDs, id)
			return 0, nil, err
		}
		sh.seq++
		sh.segs[id] = &segment{buf: b, used: size, seq: sh.seq, large: true}
		return uint32(id) << 16, b, nil
	}
	if sh.head == 0 || sh.segs[sh.head].used+size > segmentSize {
		id, err := sh.newID()
		if err != nil {
			return 0, nil, err
		}
		var b []byte
		for tries := 0; ; tries++ {
			b, err = sh.st.mem.segment(force)
			if err == nil || !errors.Is(err, errLimit) || !sh.st.evict(sh, tries) {
				break
			}
		}
		if err != nil {
			sh.freeIDs = append(sh.freeIDs, id)
			return 0, nil, err
		}
		// Eviction may have opened a new head with room enough.
		if sh.head != 0 && sh.segs[sh.head].used+size <= segmentSize {
			sh.st.mem.releaseSegment(b)
			sh.freeIDs = append(sh.freeIDs, id)
		} else {
			sh.seq++
			sh.segs[id] = &segment{buf: b, seq: sh.seq}
			if old := sh.head; old != 0 {
				sh.pending = append(sh.pending, old)
			}
			sh.head = id
		}
	}
	h := sh.segs[sh.head]
	off := h.used
	h.used += size
	return uint32(sh.head)<<16 | uint32(off), h.buf[off : off+size], nil
}

// place accounts a record just written at loc.
func (sh *shard) place(loc uint32, v view) {
	s := sh.seg(loc)
	s.live++
	s.noteExpiry(v.expires())
	sh.count(v, 1)
}

// count adds (d = 1) or takes away (d = -1) a live record from the
// shard's counters. A record changed in place is taken away before the
// change and added after it.
func (sh *shard) count(v view, d int) {
	sh.bytes += int64(d * v.size())
	if d > 0 {
		if ver := v.version(); ver.Compare(sh.newest) > 0 {
			sh.newest = ver
		}
	}
	switch {
	case v.tomb():
		sh.tombs += d
	case v.expires() != 0:
		sh.keys += d
		sh.vols += d
	default:
		sh.keys += d
	}
}

// kill marks the record at loc dead. Its index entry must already point
// elsewhere or be gone.
func (sh *shard) kill(loc uint32) {
	id := uint16(loc >> 16)
	s := sh.segs[id]
	v := sh.at(loc)
	sh.count(v, -1)
	v[0] |= recDead
	s.dead += v.space()
	s.live--
	if id != sh.head {
		sh.pending = append(sh.pending, id)
	}
}

// remove drops the record in index slot i.
func (sh *shard) remove(i int) {
	loc := entryLoc(sh.idx.slots[i])
	sh.idx.removeAt(i)
	sh.unindex(sh.at(loc))
	sh.kill(loc)
}

// put indexes the record written at loc for the key whose index slot is i,
// or -1 for a new key, and kills the record the key had.
func (sh *shard) put(tag uint32, i int, loc uint32) {
	sh.place(loc, sh.at(loc))
	if i >= 0 {
		old := entryLoc(sh.idx.slots[i])
		sh.idx.slots[i] = makeEntry(tag, loc)
		sh.kill(old)
		return
	}
	sh.insert(tag, loc)
}

// settle frees or compacts the segments that lost records during the
// operation. Compaction is worth it once a third of a segment is dead:
// moving its survivors then costs at most twice the bytes it frees, and the
// store never holds more than half again its live bytes.
func (sh *shard) settle(now int64) {
	for len(sh.pending) > 0 {
		id := sh.pending[len(sh.pending)-1]
		sh.pending = sh.pending[:len(sh.pending)-1]
		s := sh.segs[id]
		if s == nil || id == sh.head {
			continue
		}
		switch {
		case s.live == 0:
			sh.free(id)
		case !s.large && s.dead*3 >= segmentSize:
			sh.evacuate(id, now, nil)
		}
	}
}

// free gives segment id back.
func (sh *shard) free(id uint16) {
	s := sh.segs[id]
	if s.large {
		sh.st.mem.releaseBlock(s.buf)
	} else {
		sh.st.mem.releaseSegment(s.buf)
	}
	sh.segs[id] = nil
	sh.freeIDs = append(sh.freeIDs, id)
	if sh.head == id {
		sh.head = 0
	}
}

// evacuate empties segment id and frees it: expired records are dropped,
// records for which drop returns true are evicted, and the rest move to the
// head. It returns the number of records dropped or evicted.
//
// Its cache misses overlap instead of following one another: it asks for
// the segment's memory ahead of its walk, since each record's header says
// where the next begins, and goes over the records a batch at a time,
// asking for the index slots of the batch's keys before it moves them.
func (sh *shard) evacuate(id uint16, now int64, drop func(v view) bool) (gone int) {
	s := sh.segs[id]
	if id == sh.head {
		sh.head = 0 // survivors go to a new head
	}
	var offs [evacuateBatch]int
	var tags [evacuateBatch]uint32
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s.buf)))
	ahead := 0 // the segment is asked for up to here
	for off := 0; off < s.used; {
		n := 0
		for off < s.used && n < evacuateBatch {
			for ; ahead < min(off+evacuateAhead, s.used); ahead += 64 {
				prefetch.Line(base + uintptr(ahead))
			}
			v := view(s.buf[off:])
			if !v.dead() {
				k := v.key()
				tag := uint32(sh.st.hash(unsafe.String(unsafe.SliceData(k), len(k))) >> 32)
				prefetch.Line(uintptr(unsafe.Pointer(&sh.idx.slots[sh.idx.home(tag)])))
				offs[n], tags[n] = off, tag
				n++
			}
			off += v.space()
		}
		for j := range n {
			dropped, ok := sh.move(id, offs[j], tags[j], now, drop)
			if !ok {
				return gone
			}
			if dropped {
				gone++
			}
		}
	}
	if sh.segs[id] == s && s.live == 0 {
		sh.free(id)
	}
	return gone
}

// evacuateBatch is how many records evacuate looks up at a time, and
// evacuateAhead how far ahead of its walk it asks for the segment's memory.
const (
	evacuateBatch = 16
	evacuateAhead = 4 << 10
)

// move moves the live record at offset off of segment id, whose key has
// the given tag, to the head, or drops it as evacuate says. It reports
// whether it dropped the record, and false for ok when it could not move
// it.
func (sh *shard) move(id uint16, off int, tag uint32, now int64, drop func(v view) bool) (dropped, ok bool) {
	loc := uint32(id)<<16 | uint32(off)
	v := sh.at(loc)
	i := sh.slotAt(tag, loc)
	if v.expired(now) {
		sh.remove(i)
		return true, true
	}
	if drop != nil && drop(v) {
		// Evicted: the log says so, or a restart would bring the
		// record back past the memory cap. Its position is before
		// that of the write that needed the room, which waits for it.
		k := v.key()
		_, _ = sh.persist(entryDrop, unsafe.String(unsafe.SliceData(k), len(k)), nil, item{Version: v.version()})
		sh.remove(i)
		return true, true
	}
	size := v.space()
	edits := sh.idx.edits
	nloc, dst, err := sh.alloc(size, true)
	if err != nil {
		// Only a shard out of segment ids gets here: keep the record
		// where it is and give up on this segment for now.
		return false, false
	}
	copy(dst, v[:size])
	dst[0] &^= recRef
	if sh.idx.edits != edits {
		i = sh.slotAt(tag, loc) // a forced alloc does not evict, but if it did
	}
	sh.idx.slots[i] = makeEntry(tag, nloc)
	sh.place(nloc, view(dst))
	sh.kill(loc)
	return false, true
}

// expired reports whether the record's expiry has passed at now.
func (v view) expired(now int64) bool {
	e := v.expires()
	return e != 0 && e <= now
}
