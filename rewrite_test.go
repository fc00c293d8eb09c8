package sessiond

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// recordOf returns the location and view of key's record, or ok false.
func recordOf(st *Store, key string) (loc uint32, v view, ok bool) {
	h := st.hash(key)
	sh := &st.shards[h&st.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.find(uint32(h>>32), key)
	if i < 0 {
		return 0, nil, false
	}
	loc = entryLoc(sh.idx.slots[i])
	return loc, sh.at(loc), true
}

// TestRewriteInPlace follows one session through rewrites of other sizes:
// where its record stays, where it moves, and the space it keeps.
func TestRewriteInPlace(t *testing.T) {
	const key = "sess:0123456789abcdef0123456789abcdef"
	size := func(n int) int { return recordSize(len(key), max(n, 0), 0) }
	type step struct {
		value int  // value length written; -1 deletes, leaving a tombstone
		moves bool // the record moves
		space int  // the record's space after the write
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a shorter value is written in place and keeps the space", []step{
			{512, true, size(512)}, {500, false, size(512)}, {497, false, size(512)}}},
		{"a value that grows back into the space stays", []step{
			{512, true, size(512)}, {490, false, size(512)}, {512, false, size(512)}}},
		{"a longer value moves and takes room to grow", []step{
			{512, true, size(512)}, {520, true, size(520) + size(520)/growRoom}, {527, false, size(520) + size(520)/growRoom}}},
		{"a value much shorter than the space moves, and takes room too", []step{
			{512, true, size(512)}, {100, true, size(100) + size(100)/growRoom}}},
		{"a large session keeps a large pad", []step{
			{2000, true, size(2000)}, {1800, false, size(2000)}, {1998, false, size(2000)}, {1, true, size(1)}}},
		{"a record near a segment's size takes no room past it", []step{
			{60000, true, size(60000)}, {64000, true, segmentSize}, {64500, false, segmentSize}}},
		{"a tombstone takes no room, nor a session written over one", []step{
			{512, true, size(512)}, {-1, true, size(0)}, {512, true, size(512)}}},
		{"a value two bytes shorter keeps the space", []step{
			{100, true, size(100)}, {98, false, size(100)}, {100, false, size(100)}}},
		{"a value one byte shorter moves: the pad field takes two", []step{
			{100, true, size(100)}, {99, true, size(99) + size(99)/growRoom}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openTest(t, &Options{Shards: 1, Tombstones: true})
			// Neighbours on both sides, which an overrun would damage.
			st.Set("before", []byte("b"), 0)
			var loc uint32
			for n, s := range tt.steps {
				val := bytes.Repeat([]byte{byte('a' + n)}, max(s.value, 0))
				if s.value < 0 {
					if found, err := st.Delete(key); !found || err != nil {
						t.Fatalf("Delete: %v, %v", found, err)
					}
				} else if err := st.Set(key, val, time.Hour); err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					st.Set("after", []byte("a"), 0)
				}
				l, v, ok := recordOf(st, key)
				if !ok {
					t.Fatalf("step %d: key lost", n)
				}
				if moved := l != loc; moved != s.moves {
					t.Errorf("step %d (%d bytes): moved %v, want %v", n, s.value, moved, s.moves)
				}
				if v.space() != s.space || v.size() != size(s.value) {
					t.Errorf("step %d (%d bytes): space %d size %d, want %d and %d", n, s.value, v.space(), v.size(), s.space, size(s.value))
				}
				loc = l
				if got, found, _ := st.Get(key); found != (s.value >= 0) || !bytes.Equal(got, val) {
					t.Fatalf("step %d: value of %d bytes, %v, want %d", n, len(got), found, len(val))
				}
				mustGet(t, st, "before", "b")
				mustCheck(t, st)
			}
			mustGet(t, st, "after", "a")
			if st.Stats().RecordBytes != int64(size(tt.steps[len(tt.steps)-1].value)+recordSize(6, 1, 0)+recordSize(5, 1, 0)) {
				t.Errorf("RecordBytes %d counts more than headers, keys and values", st.Stats().RecordBytes)
			}
		})
	}
}

// TestRewriteModel drives the store with rewrites whose sizes change a
// little or a lot, among deletes, touches, expiry, reaping and, with a
// memory cap, eviction, and checks values and invariants against a map.
func TestRewriteModel(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"without tombstones", Options{}},
		{"with tombstones", Options{Tombstones: true}},
		{"under allkeys-lru eviction", Options{MaxMemory: 2 << 20, Policy: AllKeysLRU}},
		{"under volatile-ttl eviction", Options{MaxMemory: 2 << 20, Policy: VolatileTTL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			r := rand.New(rand.NewPCG(seed, 3))
			clk := new(testkit.FakeClock)
			o := tt.opts
			o.Shards, o.Now, o.ReapInterval = 2, clk.Now, time.Hour
			st := openTest(t, &o)
			evicting := o.MaxMemory != 0
			model := map[string]modelRec{}
			bases := []int{0, 40, 512, 3000, 70000}
			base := map[string]int{}
			for op := range 30000 {
				k := fmt.Sprintf("sess:%d", r.IntN(2000))
				switch n := r.IntN(20); {
				case n < 12:
					b, ok := base[k]
					if !ok || r.IntN(50) == 0 {
						b = bases[r.IntN(len(bases))]
						base[k] = b
					}
					size := max(b+r.IntN(b/8+1)-b/16, 0)
					v := bytes.Repeat([]byte{byte(op)}, size)
					ttl := time.Duration(r.IntN(4)) * time.Second
					if o.Policy == VolatileTTL {
						ttl += time.Second // only volatile keys can be evicted
					}
					if err := st.Set(k, v, ttl); err != nil {
						t.Fatalf("op %d: Set(%q, %d bytes): %v", op, k, size, err)
					}
					model[k] = modelRec{val: v, exp: expiresAt(clk.Now().UnixMilli(), ttl)}
				case n < 15:
					got, ok, err := st.Get(k)
					m, mok := model[k]
					mok = mok && (m.exp == 0 || m.exp > clk.Now().UnixMilli())
					if err != nil || (ok && (!mok || !bytes.Equal(got, m.val))) || (!ok && mok && !evicting) {
						t.Fatalf("op %d: Get(%q) = %d bytes, %v, %v; want %d bytes, %v", op, k, len(got), ok, err, len(m.val), mok)
					}
				case n < 16:
					st.Delete(k)
					delete(model, k)
				case n < 17:
					if m, ok := model[k]; ok {
						if found, _ := st.Touch(k, time.Minute); found {
							m.exp = expiresAt(clk.Now().UnixMilli(), time.Minute)
							model[k] = m
						}
					}
				case n < 19:
					clk.Advance(time.Duration(r.IntN(300)) * time.Millisecond)
				default:
					st.reap()
				}
				if op%1000 == 0 {
					mustCheck(t, st)
				}
			}
			mustCheck(t, st)
			if evicting {
				if s := st.Stats(); s.UsedMemory > o.MaxMemory+o.MaxMemory/4 {
					t.Fatalf("UsedMemory %d past the cap %d", s.UsedMemory, o.MaxMemory)
				}
			}
		})
	}
}

// TestRewriteStays rewrites sessions with sizes that vary by a few
// percent: once each has grown to the largest, they stay where they are.
func TestRewriteStays(t *testing.T) {
	st := openTest(t, &Options{Shards: 4})
	const n = 20000
	r := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, 600)
	key := func(i int) string { return fmt.Sprintf("sess:%032d", i) }
	rewrite := func() {
		for range 5 * n {
			st.Set(key(r.IntN(n)), val[:497+r.IntN(31)], time.Hour)
		}
	}
	for i := range n {
		st.Set(key(i), val[:512], time.Hour)
	}
	rewrite()
	rewrite()
	locs := make([]uint32, n)
	for i := range locs {
		locs[i], _, _ = recordOf(st, key(i))
	}
	before := st.Stats()
	rewrite()
	moved := 0
	for i := range locs {
		if loc, _, _ := recordOf(st, key(i)); loc != locs[i] {
			moved++
		}
	}
	// The sessions that never grew past 512 bytes in ten rewrites,
	// (16/31)^10 of them, may still move once, and compaction may then
	// move others that share their segments: 2-5.5% in all, as the hash
	// seed places keys in shards; rewritten out of place, all would move.
	t.Logf("%d of %d sessions moved", moved, n)
	if moved > n/8 {
		t.Fatalf("%d of %d sessions moved in %d rewrites", moved, n, 5*n)
	}
	if after := st.Stats(); after.Segments > before.Segments+4 {
		t.Fatalf("%d segments after the rewrites, %d before", after.Segments, before.Segments)
	}
	mustCheck(t, st)
}

// TestRewritePersist restarts a store whose records have kept space: the
// log and the snapshot hold the values, never the unused bytes.
func TestRewritePersist(t *testing.T) {
	dir := t.TempDir()
	o := Options{Shards: 2, CompactMinSize: 4 << 10}
	st := openDir(t, dir, o)
	r := rand.New(rand.NewPCG(5, 6))
	want := map[string][]byte{}
	set := func(rounds int) {
		for range rounds {
			k := fmt.Sprintf("sess:%d", r.IntN(500))
			v := bytes.Repeat([]byte{byte(r.IntN(256))}, 480+r.IntN(64))
			if err := st.Set(k, v, 0); err != nil {
				t.Fatal(err)
			}
			want[k] = v
		}
	}
	set(5000)
	if err := st.Save(); err != nil && err != ErrSaveInProgress {
		t.Fatal(err)
	}
	set(5000)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openDir(t, dir, o)
	defer st.Close()
	for k, v := range want {
		got, ok, err := st.Get(k)
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("%s after a restart: %d bytes, %v, %v; want %d bytes", k, len(got), ok, err, len(v))
		}
	}
	if n, _ := st.Len(); n != len(want) {
		t.Fatalf("Len %d after a restart, want %d", n, len(want))
	}
	mustCheck(t, st)
}
