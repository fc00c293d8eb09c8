package sessiond

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sessiond/sessiond/internal/testkit"
)

// decodeRecords turns fuzz bytes into records over three keys with few
// distinct versions, so ties on Time and deletes are common. A version is
// used at most once per key: a node never stamps two writes alike.
func decodeRecords(data []byte, clk *testkit.FakeClock) []Record {
	var recs []Record
	seen := map[string]bool{}
	for ; len(data) >= 3; data = data[3:] {
		key := fmt.Sprintf("k%d", data[0]%3)
		ver := Version{Time: uint64(clk.Now().UnixMilli())<<16 + uint64(data[1]%8), Node: uint32(data[0]>>2%3) + 1}
		id := fmt.Sprint(key, ver)
		if seen[id] {
			continue
		}
		seen[id] = true
		rec := Record{Key: key, Version: ver, Deleted: data[2]%4 == 0}
		if !rec.Deleted {
			rec.Value = bytes.Repeat([]byte{data[2]}, int(data[2]%40))
			if data[2]%3 == 0 {
				rec.Expires = clk.Now().UnixMilli() + 3600_000
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

// FuzzApplyOrder checks that the order records are applied in never changes
// the final state, and that the state is each key's highest version.
func FuzzApplyOrder(f *testing.F) {
	f.Add([]byte{0, 1, 5, 0, 2, 4, 0, 1, 7, 1, 3, 8})
	f.Add([]byte{0, 5, 4, 0, 3, 9, 4, 5, 1, 0, 6, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		clk := new(testkit.FakeClock)
		recs := decodeRecords(data, clk)
		if len(recs) == 0 {
			return
		}
		orders := [][]Record{recs, make([]Record, 0, len(recs)), make([]Record, 0, len(recs))}
		for i := len(recs) - 1; i >= 0; i-- {
			orders[1] = append(orders[1], recs[i])
		}
		// An interleaving: odd positions first, then even.
		for i := 1; i < len(recs); i += 2 {
			orders[2] = append(orders[2], recs[i])
		}
		for i := 0; i < len(recs); i += 2 {
			orders[2] = append(orders[2], recs[i])
		}
		want := map[string]Record{}
		for _, r := range recs {
			if w, ok := want[r.Key]; !ok || r.Version.Compare(w.Version) > 0 {
				want[r.Key] = r
			}
		}
		for n, order := range orders {
			st := openTest(t, &Options{Shards: 2, Now: clk.Now, Tombstones: true, NodeID: 9})
			for _, r := range order {
				if _, err := st.Replica().Apply(r); err != nil {
					t.Fatal(err)
				}
			}
			for k, w := range want {
				got, ok, err := st.Replica().Load(k)
				if err != nil || !ok {
					t.Fatalf("order %d: Load(%q) = %v, %v", n, k, ok, err)
				}
				if got.Version != w.Version || got.Deleted != w.Deleted || !bytes.Equal(got.Value, w.Value) || got.Expires != w.Expires && !w.Deleted {
					t.Fatalf("order %d: %q = %+v, want %+v", n, k, got, w)
				}
				v, found, _ := st.Get(k)
				if found == w.Deleted || (found && !bytes.Equal(v, w.Value)) {
					t.Fatalf("order %d: Get(%q) = %q, %v; want %+v", n, k, v, found, w)
				}
			}
			mustCheck(t, st)
		}
	})
}

func TestLocalWriteBeatsApplied(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Now: clk.Now, Tombstones: true})
	// A peer whose clock runs 10 seconds ahead.
	ahead := Version{Time: uint64(clk.Now().UnixMilli()+10_000) << 16, Node: 7}
	if ok, err := st.Replica().Apply(Record{Key: "k", Value: []byte("peer"), Version: ahead}); !ok || err != nil {
		t.Fatalf("Apply = %v, %v", ok, err)
	}
	st.Set("k", []byte("local"), 0)
	rec, _, _ := st.Replica().Load("k")
	if string(rec.Value) != "local" || rec.Version.Compare(ahead) <= 0 {
		t.Fatalf("local write after apply: %+v", rec)
	}
	st.Delete("k")
	tomb, ok, _ := st.Replica().Load("k")
	if !ok || !tomb.Deleted || tomb.Version.Compare(rec.Version) <= 0 {
		t.Fatalf("tombstone after delete: %+v, %v", tomb, ok)
	}
	// The stale peer write arrives again: it must not bring the key back.
	if ok, _ := st.Replica().Apply(Record{Key: "k", Value: []byte("peer"), Version: ahead}); ok {
		t.Fatal("stale write applied over a tombstone")
	}
	if _, found, _ := st.Get("k"); found {
		t.Fatal("destroyed session came back")
	}
}

func TestApplyBatch(t *testing.T) {
	st, err := Open(&Options{MaxValueSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := func(n uint64) Version { return Version{Time: n << 16, Node: 2} }
	recs := []Record{
		{Key: "a", Value: []byte("1"), Version: v(10)},
		{Key: "a", Value: []byte("old"), Version: v(5)}, // lower: not applied
		{Key: "b", Value: make([]byte, 17), Version: v(10)},
		{Key: "a", Value: []byte("2"), Version: v(11)}, // in order: after the first
	}
	type result struct {
		ok  bool
		err bool
	}
	var got []result
	st.Replica().ApplyBatch(recs, func(i int, ok bool, err error) {
		if i != len(got) {
			t.Fatalf("result %d came as the %dth", i, len(got))
		}
		got = append(got, result{ok, err != nil})
		if err != nil && !errors.Is(err, ErrValueTooLarge) {
			t.Errorf("record %d: %v, want ErrValueTooLarge", i, err)
		}
	})
	want := []result{{true, false}, {false, false}, {false, true}, {true, false}}
	if !slices.Equal(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	if val, _, _ := st.Get("a"); string(val) != "2" {
		t.Errorf("a = %q, want 2", val)
	}
}
