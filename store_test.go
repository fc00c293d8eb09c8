package sessiond

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

func openTest(t testing.TB, o *Options) *Store {
	t.Helper()
	st, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustCheck(t testing.TB, st *Store) {
	t.Helper()
	if err := st.check(); err != nil {
		t.Fatal(err)
	}
}

type modelRec struct {
	val []byte
	exp int64
}

// TestModel drives the store with random operations against a map and
// checks results and internal invariants as it goes. Value sizes cross the
// in-place, relocation and large-record paths; the clock moves so records
// expire, are reaped and segments compact.
func TestModel(t *testing.T) {
	for _, tomb := range []bool{false, true} {
		t.Run(fmt.Sprintf("tombstones=%v", tomb), func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			r := rand.New(rand.NewPCG(seed, 1))
			clk := new(testkit.FakeClock)
			st := openTest(t, &Options{Shards: 4, Now: clk.Now, Tombstones: tomb, MaxValueSize: 200 << 10, ReapInterval: time.Hour})
			model := map[string]modelRec{}
			live := func(k string) (modelRec, bool) {
				m, ok := model[k]
				if ok && m.exp != 0 && m.exp <= clk.Now().UnixMilli() {
					return m, false
				}
				return m, ok
			}
			sizes := []int{0, 1, 10, 100, 512, 512, 512, 4000, 70000, 150000}
			for op := 0; op < 20000; op++ {
				k := fmt.Sprintf("sess:%d", r.IntN(300))
				switch r.IntN(10) {
				case 0, 1, 2, 3:
					v := bytes.Repeat([]byte{byte(op)}, sizes[r.IntN(len(sizes))])
					ttl := time.Duration(r.IntN(5)) * time.Second
					if err := st.Set(k, v, ttl); err != nil {
						t.Fatal(err)
					}
					model[k] = modelRec{val: v, exp: expiresAt(clk.Now().UnixMilli(), ttl)}
				case 4, 5:
					got, ok, err := st.Get(k)
					m, mok := live(k)
					if err != nil || ok != mok || (ok && !bytes.Equal(got, m.val)) {
						t.Fatalf("op %d: Get(%q) = %d bytes, %v, %v; want %d bytes, %v", op, k, len(got), ok, err, len(m.val), mok)
					}
				case 6:
					ok, err := st.Delete(k)
					_, mok := live(k)
					if err != nil || ok != mok {
						t.Fatalf("op %d: Delete(%q) = %v, %v; want %v", op, k, ok, err, mok)
					}
					delete(model, k)
				case 7:
					ttl := time.Duration(r.IntN(4)-1) * time.Second
					ok, err := st.Touch(k, ttl)
					m, mok := live(k)
					if err != nil || ok != mok {
						t.Fatalf("op %d: Touch(%q) = %v, %v; want %v", op, k, ok, err, mok)
					}
					if mok {
						if ttl <= 0 {
							delete(model, k)
						} else {
							m.exp = expiresAt(clk.Now().UnixMilli(), ttl)
							model[k] = m
						}
					}
				case 8:
					clk.Advance(time.Duration(r.IntN(700)) * time.Millisecond)
				case 9:
					st.reap()
				}
				if op%500 == 0 {
					mustCheck(t, st)
				}
			}
			mustCheck(t, st)
			st.reap()
			mustCheck(t, st)
			n, _ := st.Len()
			want := 0
			for k := range model {
				if _, ok := live(k); ok {
					want++
				}
			}
			if n != want {
				t.Fatalf("Len = %d after reap, want %d", n, want)
			}
		})
	}
}

func TestReclaimExpired(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Now: clk.Now, ReapInterval: time.Hour})
	val := make([]byte, 512)
	for i := range 20000 {
		ttl := time.Second
		if i%2 == 0 {
			ttl = time.Hour
		}
		if err := st.Set(fmt.Sprintf("sess:%d", i), val, ttl); err != nil {
			t.Fatal(err)
		}
	}
	before := st.Stats()
	clk.Advance(1500 * time.Millisecond)
	if n := st.reap(); n != 10000 {
		t.Fatalf("reap reclaimed %d records, want 10000", n)
	}
	after := st.Stats()
	if after.Keys != 10000 {
		t.Fatalf("Keys = %d, want 10000", after.Keys)
	}
	// Half the records went: compaction must have given back most of
	// their memory.
	if after.UsedMemory > before.UsedMemory*7/10 {
		t.Fatalf("UsedMemory %d after reclaiming half of %d", after.UsedMemory, before.UsedMemory)
	}
	mustCheck(t, st)
	clk.Advance(2 * time.Hour)
	st.reap()
	if s := st.Stats(); s.Keys != 0 || s.Segments != 0 {
		t.Fatalf("after all expired: %+v", s)
	}
}

// TestReaperRuns checks the background reaper with the real clock.
func TestReaperRuns(t *testing.T) {
	st := openTest(t, &Options{ReapInterval: 20 * time.Millisecond})
	for i := range 1000 {
		st.Set(fmt.Sprint(i), []byte("v"), 50*time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st.Stats().Keys != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("expired records not reclaimed: %+v", st.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBadInput(t *testing.T) {
	st := openTest(t, &Options{MaxValueSize: 1000})
	if err := st.Set("", []byte("empty key is a key"), 0); err != nil {
		t.Fatalf("empty key: %v", err)
	}
	if v, ok, _ := st.Get(""); !ok || string(v) != "empty key is a key" {
		t.Fatalf("Get(\"\") = %q, %v", v, ok)
	}
	st.Set("k", []byte("kept"), 0)
	err := st.Set("k", make([]byte, 1001), 0)
	if !errors.Is(err, ErrValueTooLarge) || !strings.Contains(err.Error(), `"k"`) {
		t.Fatalf("huge value: %v", err)
	}
	if v, _, _ := st.Get("k"); string(v) != "kept" {
		t.Fatalf("huge value clobbered the old one: %q", v)
	}
	if err := st.Set(strings.Repeat("x", MaxKeySize+1), nil, 0); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("huge key: %v", err)
	}
	if err := st.Set("k", []byte("x"), -time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.Exists("k"); ok {
		t.Fatal("negative ttl did not delete the key")
	}
	st.Set("k", []byte("x"), 0)
	if ok, _ := st.Touch("k", 0); !ok {
		t.Fatal("Touch with ttl 0 on a present key reported false")
	}
	if ok, _ := st.Exists("k"); ok {
		t.Fatal("Touch with ttl 0 did not delete the key")
	}
	// An expiry past what the header holds is kept as the latest it
	// holds: the key lives, as it would have for millennia.
	if _, err := st.Write("far", []byte("x"), WriteOptions{Expires: time.UnixMilli(1 << 62)}); err != nil {
		t.Fatal(err)
	}
	if rec, ok, _ := st.Replica().Load("far"); !ok || rec.Expires != maxExpires {
		t.Fatalf("far expiry stored as %d (found %v), want %d", rec.Expires, ok, int64(maxExpires))
	}
	mustCheck(t, st)
	if _, err := Open(&Options{Shards: 1 << 20}); err == nil {
		t.Fatal("Open accepted 2^20 shards")
	}
	if _, err := Open(&Options{MaxMemory: -1}); err == nil {
		t.Fatal("Open accepted a negative maxmemory")
	}
}

func TestMaxMemoryNoEviction(t *testing.T) {
	st := openTest(t, &Options{Shards: 4, MaxMemory: 4 << 20})
	val := make([]byte, 512)
	var stored []string
	var err error
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("sess:%d", i)
		if err = st.Set(k, val, 0); err != nil {
			break
		}
		stored = append(stored, k)
	}
	if !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("writing past the cap: %v", err)
	}
	if s := st.Stats(); s.UsedMemory > int64(4<<20+4*pageSize*16) {
		t.Fatalf("UsedMemory %d past the 4 MiB cap", s.UsedMemory)
	}
	for _, k := range stored {
		if _, ok, _ := st.Get(k); !ok {
			t.Fatalf("%s lost after the cap was hit", k)
		}
	}
	// Deleting makes room again.
	for _, k := range stored[:len(stored)/2] {
		st.Delete(k)
	}
	if err := st.Set("after", val, 0); err != nil {
		t.Fatalf("write after deletes: %v", err)
	}
	mustCheck(t, st)
}

func TestMaxMemoryEviction(t *testing.T) {
	for _, p := range []Policy{AllKeysLRU, VolatileTTL} {
		t.Run(p.String(), func(t *testing.T) {
			st := openTest(t, &Options{Shards: 4, MaxMemory: 4 << 20, Policy: p})
			val := make([]byte, 512)
			// Hot keys, read often, and with no expiry under VolatileTTL:
			// the policy must keep them.
			for i := range 100 {
				if err := st.Set(fmt.Sprintf("hot:%d", i), val, 0); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 50000 {
				if err := st.Set(fmt.Sprintf("sess:%d", i), val, time.Hour+time.Duration(i)*time.Millisecond); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				if i%100 == 0 {
					for j := range 100 {
						st.Get(fmt.Sprintf("hot:%d", j))
					}
				}
			}
			s := st.Stats()
			if s.UsedMemory > 5<<20 {
				t.Fatalf("UsedMemory %d past the 4 MiB cap", s.UsedMemory)
			}
			if s.Evictions == 0 {
				t.Fatal("nothing evicted")
			}
			for j := range 100 {
				if _, ok, _ := st.Get(fmt.Sprintf("hot:%d", j)); !ok {
					t.Fatalf("hot:%d evicted", j)
				}
			}
			// The newest writes survive.
			if _, ok, _ := st.Get("sess:49999"); !ok {
				t.Fatal("the newest record was evicted")
			}
			mustCheck(t, st)
		})
	}
	t.Run("volatile-ttl without volatile keys", func(t *testing.T) {
		st := openTest(t, &Options{Shards: 2, MaxMemory: 2 << 20, Policy: VolatileTTL})
		var err error
		for i := 0; i < 100000 && err == nil; i++ {
			err = st.Set(fmt.Sprint(i), make([]byte, 512), 0)
		}
		if !errors.Is(err, ErrOutOfMemory) {
			t.Fatalf("got %v, want ErrOutOfMemory", err)
		}
	})
}

func TestScanAcrossGrowth(t *testing.T) {
	st := openTest(t, &Options{Shards: 2})
	for i := range 100 {
		st.Set(fmt.Sprintf("old:%d", i), []byte("v"), 0)
	}
	seen := map[string]int{}
	var cur uint64
	added := 0
	for {
		keys, next, err := st.Scan(cur, "", 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen[k]++
		}
		// Grow the index several times during the scan.
		for range 50 {
			st.Set(fmt.Sprintf("new:%d", added), []byte("v"), 0)
			added++
		}
		if next == 0 {
			break
		}
		cur = next
	}
	for i := range 100 {
		if seen[fmt.Sprintf("old:%d", i)] == 0 {
			t.Fatalf("old:%d missed by a scan during growth", i)
		}
	}
}

func TestCompactionKeepsValues(t *testing.T) {
	st := openTest(t, &Options{Shards: 1})
	want := map[string][]byte{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50000 {
		k := fmt.Sprintf("k%d", r.IntN(2000))
		v := bytes.Repeat([]byte{byte(i)}, 100+r.IntN(900))
		st.Set(k, v, 0)
		want[k] = v
	}
	for k, v := range want {
		got, ok, _ := st.Get(k)
		if !ok || !bytes.Equal(got, v) {
			t.Fatalf("%s: got %d bytes, want %d", k, len(got), len(v))
		}
	}
	s := st.Stats()
	// Live data is about 2000 * 600 bytes; compaction keeps the segments
	// within half again of it, plus the head.
	if limit := s.RecordBytes*3/2 + 2*segmentSize; int64(s.Segments)*segmentSize > limit {
		t.Fatalf("%d segments for %d live bytes", s.Segments, s.RecordBytes)
	}
	mustCheck(t, st)
}

func TestClosed(t *testing.T) {
	st, _ := Open(nil)
	st.Set("k", []byte("v"), 0)
	st.Close()
	if _, _, err := st.Get("k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if err := st.Set("k", nil, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNow(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	st, err := Open(&Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := st.Now(); !got.Equal(at) {
		t.Errorf("Now() = %v, want Options.Now's %v", got, at)
	}
}

// TestOptions: a store reports the options it runs with, defaults applied,
// so that what serves it need not know them.
func TestOptions(t *testing.T) {
	st := openTest(t, &Options{Shards: 100, MaxMemory: 1 << 30, Replicator: &queue{}})
	o := st.Options()
	if o.Shards != 128 || o.MaxMemory != 1<<30 || o.MaxValueSize != 1<<20 || o.NodeID != 1 ||
		!o.Tombstones || o.TombstoneTTL != 24*time.Hour || o.CompactMinSize != compactMin || o.Now == nil {
		t.Fatalf("Options() = %+v", o)
	}
}
