package sessiond

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

const (
	// segmentSize is the unit in which record memory is taken, freed,
	// compacted and evicted. Small enough that a nearly empty store stays
	// small and eviction is fine-grained, large enough that the tail left
	// unused when a segment fills is under 1% for session-sized records.
	segmentSize = 64 << 10

	// arenaSize is how much address space is mapped at once and carved
	// into segments, so a large store needs few kernel mappings.
	arenaSize = 16 << 20
)

var pageSize = os.Getpagesize()

// memory hands out segments and large blocks and accounts every byte the
// store's records and indexes take, against the optional cap.
type memory struct {
	limit int64 // 0: no cap
	used  atomic.Int64

	mu      sync.Mutex
	huge    bool // new arenas ask for huge pages (while loading)
	hugeAt  int  // the first arena mapped since huge was set
	closing bool // the arenas are about to be unmapped: freeing a segment costs nothing
	arenas  [][]byte
	carve   []byte   // the unused rest of the newest arena
	warm    [][]byte // freed segments whose pages are still resident
	free    [][]byte // released segments, ready for reuse
}

// warmSegments is how many freed segments keep their pages. Giving pages
// back to the kernel and faulting them in again costs more than the
// copying that compaction does, so a store that churns reuses a few
// segments warm; the rest go back at once.
const warmSegments = 32

// errLimit is internal: the caller decides between eviction and
// ErrOutOfMemory.
var errLimit = fmt.Errorf("%w: maxmemory reached", ErrOutOfMemory)

// reserve accounts n more bytes. Unless force is set, it fails when that
// would pass the cap. Forced reservations are for work that frees more
// than it takes (compaction) and for index growth, which must not fail
// half-way.
func (m *memory) reserve(n int64, force bool) error {
	if m.limit == 0 || force {
		m.used.Add(n)
		return nil
	}
	for {
		u := m.used.Load()
		if u+n > m.limit {
			return errLimit
		}
		if m.used.CompareAndSwap(u, u+n) {
			return nil
		}
	}
}

func (m *memory) unreserve(n int64) { m.used.Add(-n) }

// segment returns a segmentSize block.
func (m *memory) segment(force bool) ([]byte, error) {
	if err := m.reserve(segmentSize, force); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.warm); n > 0 {
		b := m.warm[n-1]
		m.warm = m.warm[:n-1]
		return b, nil
	}
	if n := len(m.free); n > 0 {
		b := m.free[n-1]
		m.free = m.free[:n-1]
		return b, nil
	}
	if len(m.carve) < segmentSize {
		a, err := mapMemory(arenaSize)
		if err != nil {
			m.unreserve(segmentSize)
			return nil, fmt.Errorf("%w: mapping %d bytes: %v", ErrOutOfMemory, arenaSize, err)
		}
		if m.huge {
			adviseHuge(a)
		}
		m.arenas = append(m.arenas, a)
		m.carve = a
	}
	b := m.carve[:segmentSize:segmentSize]
	m.carve = m.carve[segmentSize:]
	return b, nil
}

// hugePages makes the arenas mapped from now on ask for huge pages, or
// stops it and takes the advice back from those arenas. A load turns it
// on: it fills every page at once, where the fewer faults pay; a store
// that grows a session at a time keeps small pages, so that a small store
// stays small. Freeing part of a huge page later splits it.
func (m *memory) hugePages(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on && !m.huge {
		m.hugeAt = len(m.arenas)
	}
	if !on && m.huge {
		for _, a := range m.arenas[m.hugeAt:] {
			adviseSmall(a)
		}
	}
	m.huge = on
}

// releaseSegment returns a segment's pages to the kernel and keeps its
// address space for reuse.
func (m *memory) releaseSegment(b []byte) {
	m.unreserve(segmentSize)
	m.mu.Lock()
	if m.closing || len(m.warm) < warmSegments {
		m.warm = append(m.warm, b)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	releaseMemory(b)
	m.mu.Lock()
	m.free = append(m.free, b)
	m.mu.Unlock()
}

// block maps a block of its own for a record larger than a segment, or
// for an index table.
func (m *memory) block(n int, force bool) ([]byte, error) {
	size := (n + pageSize - 1) &^ (pageSize - 1)
	if err := m.reserve(int64(size), force); err != nil {
		return nil, err
	}
	b, err := mapMemory(size)
	if err != nil {
		m.unreserve(int64(size))
		return nil, fmt.Errorf("%w: mapping %d bytes: %v", ErrOutOfMemory, size, err)
	}
	return b[:n:size], nil
}

func (m *memory) releaseBlock(b []byte) {
	if cap(b) == 0 {
		return
	}
	unmapMemory(b[:cap(b)])
	m.unreserve(int64(cap(b)))
}

// startClose makes freeing segments skip giving their pages back one by
// one: close unmaps them all at once (a store of 1,000,000 sessions took
// half a second to close without it).
func (m *memory) startClose() {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
}

// close unmaps every arena. Nothing may use the store's memory after it.
func (m *memory) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.arenas {
		unmapMemory(a)
	}
	m.arenas, m.carve, m.warm, m.free = nil, nil, nil, nil
}
