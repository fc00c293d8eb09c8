package sessiond

// index maps a key's hash to where its record lives. It is an open-addressing
// table of 8-byte entries, a 32-bit hash tag and a 32-bit location, kept in
// the order of the tags:
//
//   - Every entry sits at or after its home slot, tag*n>>32, and entries are
//     sorted by tag along the table. A lookup starts at the home slot and
//     stops at the first larger tag, so misses are as cheap as hits.
//   - The table does not wrap around: a slack of empty slots at the end
//     takes the overflow of the last homes.
//   - The order is the same at every size, so a scan cursor (a tag) stays
//     valid across growth: SCAN needs no server-side state.
//
// The table holds no pointers and is mapped outside the Go heap, so it
// costs the garbage collector nothing. At the load it grows from (7/8) to
// the load after growth (7/12), an entry takes 9 to 14 bytes.
type index struct {
	slots []uint64 // n homes plus indexSlack; 0 is an empty slot
	n     uint64   // number of home slots
	count int
	// edits counts the insertions and removals, which shift entries: a
	// slot found before one may hold another key after it.
	edits uint64
}

const (
	indexSlack   = 64
	indexMinHome = 32
)

func makeEntry(tag, loc uint32) uint64 { return uint64(tag)<<32 | uint64(loc) }
func entryTag(e uint64) uint32         { return uint32(e >> 32) }
func entryLoc(e uint64) uint32         { return uint32(e) }

func (x *index) home(tag uint32) int { return int(uint64(tag) * x.n >> 32) }

// insertAt puts e at slot i, shifting the entries from i up to the next
// empty slot one to the right. It reports false, changing nothing, when
// that would run off the end of the table.
func (x *index) insertAt(i int, e uint64) bool {
	j := i
	for j < len(x.slots) && x.slots[j] != 0 {
		j++
	}
	if j == len(x.slots) {
		return false
	}
	copy(x.slots[i+1:j+1], x.slots[i:j])
	x.slots[i] = e
	x.count++
	x.edits++
	return true
}

// removeAt empties slot i and moves the entries after it back towards
// their home slots.
func (x *index) removeAt(i int) {
	j := i
	for j+1 < len(x.slots) {
		e := x.slots[j+1]
		if e == 0 || x.home(entryTag(e)) > j {
			break
		}
		x.slots[j] = e
		j++
	}
	x.slots[j] = 0
	x.count--
	x.edits++
}

// insertPos returns the slot where an entry with the given tag goes: after
// every entry with a tag not larger.
func (x *index) insertPos(tag uint32) int {
	i := x.home(tag)
	for i < len(x.slots) {
		e := x.slots[i]
		if e == 0 || entryTag(e) > tag {
			break
		}
		i++
	}
	return i
}

// inRange calls fn with the slot of each entry whose tag is from lo to hi,
// in order. Between lo's home and hi's an empty slot does not end the
// walk: an entry of a tag in the range may sit at a later home.
func (x *index) inRange(lo, hi uint32, fn func(i int)) {
	if x.n == 0 {
		return
	}
	last := x.home(hi)
	for i := x.home(lo); i < len(x.slots); i++ {
		e := x.slots[i]
		switch {
		case e == 0 && i >= last, e != 0 && entryTag(e) > hi:
			return
		case e != 0 && entryTag(e) >= lo:
			fn(i)
		}
	}
}

// insert adds e after the entries of its tag, growing the table with
// memory from mem as needed.
func (x *index) insert(e uint64, mem *memory) {
	tag := entryTag(e)
	if !x.needsGrowth() && x.insertAt(x.insertPos(tag), e) {
		return
	}
	for range 2 {
		x.grow(mem)
		if x.insertAt(x.insertPos(tag), e) {
			return
		}
	}
	panic("sessiond: index cannot place an entry")
}

// grow moves the table to one half as large again, taken from mem. Its
// memory is taken even past the cap: an index that cannot grow would fail
// a write half-way, and the table is a small fraction of the records it
// indexes.
func (x *index) grow(mem *memory) {
	n := max(x.n*3/2, indexMinHome)
	for {
		slots, err := mem.block(int(n+indexSlack)*8, true)
		if err != nil {
			panic(err) // the kernel refused a mapping: nothing sane is left to do
		}
		old := x.slots
		if x.rebuild(sliceWords(slots), n) {
			if old != nil {
				mem.releaseBlock(sliceBytes(old))
			}
			return
		}
		mem.releaseBlock(slots)
		n = n * 3 / 2
	}
}

// release gives the table's memory back to mem and empties it.
func (x *index) release(mem *memory) {
	if x.slots != nil {
		mem.releaseBlock(sliceBytes(x.slots))
	}
	*x = index{}
}

// needsGrowth reports whether one more entry would load the table past 7/8.
func (x *index) needsGrowth() bool {
	return uint64(x.count+1)*8 > x.n*7
}

// rebuild lays the entries out in a table of n homes, in slots taken from
// alloc. It reports false if they do not fit (the caller picks a larger n).
func (x *index) rebuild(slots []uint64, n uint64) bool {
	y := index{slots: slots, n: n}
	next := 0
	for _, e := range x.slots {
		if e == 0 {
			continue
		}
		i := max(y.home(entryTag(e)), next)
		if i >= len(slots) {
			return false
		}
		slots[i] = e
		next = i + 1
		y.count++
	}
	x.slots, x.n, x.count = y.slots, y.n, y.count
	x.edits++
	return true
}
