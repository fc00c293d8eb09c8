package sessiond

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIndexInRange checks inRange against a look at every slot, on tables
// with random tags, for ranges that straddle homes, empty slots between
// them included: the user index's listing walks a shard's table so.
func TestIndexInRange(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 15))
	for round := range 200 {
		n := uint64(32 << r.IntN(4))
		x := &index{slots: make([]uint64, n+indexSlack), n: n}
		width := uint32(1) << (32 - 5 - r.IntN(3)) // a home is 2^32/n tags
		for range r.IntN(int(n)) {
			tag := r.Uint32()
			if r.IntN(2) == 0 {
				tag = uint32(r.IntN(int(n))) * uint32((1<<32)/n) // at a home's start
			}
			x.insertAt(x.insertPos(tag), makeEntry(tag, 1))
		}
		for range 50 {
			lo := r.Uint32() &^ (width - 1)
			hi := lo + width - 1
			var got, want []int
			x.inRange(lo, hi, func(i int) { got = append(got, i) })
			for i, e := range x.slots {
				if e != 0 && entryTag(e) >= lo && entryTag(e) <= hi {
					want = append(want, i)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, tags %#x to %#x: slots %v, want %v", round, lo, hi, got, want)
			}
		}
	}
	// The case that needs it: an empty slot at lo's home, the entry at
	// the next home.
	x := &index{slots: make([]uint64, 32+indexSlack), n: 32}
	tag := uint32(5 << 27)
	x.insertAt(x.insertPos(tag+3), makeEntry(tag+3, 1))
	var got []int
	x.inRange(tag-10, tag+100, func(i int) { got = append(got, i) })
	if !slices.Equal(got, []int{5}) {
		t.Fatalf("found slots %v, want [5]", got)
	}
}
