package sessiond

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// queue is a Replicator that keeps copies of the changes it is given, for a
// test to apply to other stores.
type queue struct {
	mu     sync.Mutex
	recs   []Record
	clears []Version
	waits  int
	fail   error // Wait's answer
}

func (q *queue) Replicate(rec Record) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	rec.Value = bytes.Clone(rec.Value) // valid only during the call
	q.recs = append(q.recs, rec)
	return uint64(len(q.recs) + len(q.clears))
}

func (q *queue) ReplicateClear(v Version) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.clears = append(q.clears, v)
	q.recs = append(q.recs, Record{Key: "\x00clear", Version: v}) // keeps the order
	return uint64(len(q.recs) + len(q.clears))
}

func (q *queue) Wait(ticket uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waits++
	return q.fail
}

// drain applies the queued changes to dst, in order, and empties the queue.
func (q *queue) drain(t *testing.T, dst *Store) {
	t.Helper()
	q.mu.Lock()
	recs := q.recs
	q.recs, q.clears = nil, nil
	q.mu.Unlock()
	for _, r := range recs {
		var err error
		if r.Key == "\x00clear" {
			err = dst.Replica().ClearBefore(r.Version)
		} else {
			_, err = dst.Replica().Apply(r)
		}
		if err != nil {
			t.Fatalf("applying %+v: %v", r, err)
		}
	}
}

func (q *queue) take() []Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	recs := q.recs
	q.recs = nil
	return recs
}

// TestReplicatorSeesEveryChange: each kind of local change reaches the
// replicator once, as the record the store now holds, and nothing that
// changes nothing (a read, a failed condition, a miss) does.
func TestReplicatorSeesEveryChange(t *testing.T) {
	clk := new(testkit.FakeClock)
	q := &queue{}
	st, err := Open(&Options{Now: clk.Now, Replicator: q, NodeID: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := clk.Now().UnixMilli()

	type step struct {
		name string
		do   func() error
		want []Record // Version checked to be set and increasing, not equal
	}
	val := []byte("v1")
	steps := []step{
		{"set", func() error { return st.Set("a", val, time.Minute) }, []Record{{Key: "a", Value: val, Expires: now + 60_000}}},
		{"get", func() error { _, _, err := st.Get("a"); return err }, nil},
		{"write-flags", func() error {
			_, err := st.Write("b", []byte("x"), WriteOptions{Flags: 2})
			return err
		}, []Record{{Key: "b", Value: []byte("x"), Flags: 2}}},
		{"write-nx-fails", func() error {
			_, err := st.Write("b", []byte("y"), WriteOptions{Cond: IfAbsent})
			if !errors.Is(err, ErrNotStored) {
				return fmt.Errorf("NX write of an existing key: %v", err)
			}
			return nil
		}, nil},
		{"touch", func() error { _, err := st.Touch("a", time.Hour); return err }, []Record{{Key: "a", Value: val, Expires: now + 3600_000}}},
		{"update-unchanged", func() error {
			_, err := st.Update("a", func(e *Entry) error { e.Value(); return nil })
			return err
		}, nil},
		{"update-expires", func() error {
			_, err := st.Update("b", func(e *Entry) error { e.SetExpires(time.UnixMilli(now + 5000)); return nil })
			return err
		}, []Record{{Key: "b", Value: []byte("x"), Flags: 2, Expires: now + 5000}}},
		{"update-set", func() error {
			_, err := st.Update("b", func(e *Entry) error { e.Set(append([]byte("<"), e.Value()...)); return nil })
			return err
		}, []Record{{Key: "b", Value: []byte("<x"), Flags: 2, Expires: now + 5000}}},
		{"update-fails", func() error {
			_, err := st.Update("b", func(e *Entry) error { e.Set([]byte("y")); return errors.New("no") })
			if err == nil {
				return errors.New("Update did not return fn's error")
			}
			return nil
		}, nil},
		{"delete", func() error { _, err := st.Delete("b"); return err }, []Record{{Key: "b", Deleted: true, Expires: now + (24 * time.Hour).Milliseconds()}}},
		{"delete-missing", func() error { _, err := st.Delete("b"); return err }, nil},
		{"update-delete", func() error {
			_, err := st.Update("a", func(e *Entry) error { e.Delete(); return nil })
			return err
		}, []Record{{Key: "a", Deleted: true, Expires: now + (24 * time.Hour).Milliseconds()}}},
		{"set-expired", func() error {
			if err := st.Set("c", val, 0); err != nil {
				return err
			}
			return st.Set("c", val, -1)
		}, []Record{{Key: "c", Value: val}, {Key: "c", Deleted: true, Expires: now + (24 * time.Hour).Milliseconds()}}},
	}
	var last Version
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := q.take()
		if len(got) != len(s.want) {
			t.Fatalf("%s: replicated %d changes %+v, want %d", s.name, len(got), got, len(s.want))
		}
		for i, g := range got {
			if g.Version.Compare(last) <= 0 || g.Version.Node != 7 {
				t.Errorf("%s: version %+v after %+v: want a higher one of node 7", s.name, g.Version, last)
			}
			last = g.Version
			g.Version = Version{}
			if w := s.want[i]; g.Key != w.Key || !bytes.Equal(g.Value, w.Value) || g.Expires != w.Expires || g.Flags != w.Flags || g.Deleted != w.Deleted {
				t.Errorf("%s: replicated %+v, want %+v", s.name, g, w)
			}
		}
	}
	if err := st.Clear(); err != nil {
		t.Fatal(err)
	}
	if len(q.clears) != 1 || q.clears[0].Compare(last) <= 0 || st.Replica().Floor() != q.clears[0] {
		t.Errorf("Clear replicated %v with floor %v, want one version past %v", q.clears, st.Replica().Floor(), last)
	}
}

// TestReplicatorWaitFails: a write the replicator cannot confirm is made
// locally, and the caller learns it was not replicated.
func TestReplicatorWaitFails(t *testing.T) {
	q := &queue{fail: errors.New("1 of 1 replicas did not answer in 1s")}
	st, err := Open(&Options{Replicator: q})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Set("k", []byte("v"), 0); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Set with a failing replicator: %v, want ErrNotReplicated", err)
	}
	if v, found, _ := st.Get("k"); !found || string(v) != "v" {
		t.Fatalf("the write was not kept locally: %q %v", v, found)
	}
	if _, err := st.Delete("k"); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Delete with a failing replicator: %v, want ErrNotReplicated", err)
	}
	if err := st.Clear(); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Clear with a failing replicator: %v, want ErrNotReplicated", err)
	}
	if _, err := st.Exists("k"); err != nil || q.waits != 3 {
		t.Fatalf("a read waited for replication (%d waits for 3 changes) or failed: %v", q.waits, err)
	}
}

// TestReplicasConverge: two stores replicating to each other, written at
// random (sets, touches, deletes, clears) and exchanging their changes late
// and in batches, end up holding the same records.
func TestReplicasConverge(t *testing.T) {
	clk := new(testkit.FakeClock)
	qa, qb := &queue{}, &queue{}
	a, err := Open(&Options{Now: clk.Now, Replicator: qa, NodeID: 1, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(&Options{Now: clk.Now, Replicator: qb, NodeID: 2, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	stores := []*Store{a, b}
	for step := range 5000 {
		st := stores[rng.IntN(2)]
		key := fmt.Sprintf("k%d", rng.IntN(50))
		switch op := rng.IntN(100); {
		case op < 50:
			err = st.Set(key, []byte(fmt.Sprintf("v%d", step)), time.Duration(rng.IntN(3))*time.Minute)
		case op < 70:
			_, err = st.Touch(key, time.Duration(rng.IntN(120))*time.Second)
		case op < 90:
			_, err = st.Delete(key)
		case op < 91:
			err = st.Clear()
		default:
			clk.Advance(time.Duration(rng.IntN(2000)) * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(20) == 0 { // exchange now and then
			qa.drain(t, b)
			qb.drain(t, a)
		}
	}
	qa.drain(t, b)
	qb.drain(t, a)
	live := 0
	for k := range 50 {
		key := fmt.Sprintf("k%d", k)
		ra, fa, _ := a.Replica().Load(key)
		rb, fb, _ := b.Replica().Load(key)
		// A tombstone's expiry is each store's own: how long it keeps
		// the delete, counted from when it learned of it.
		if fa != fb || ra.Version != rb.Version || ra.Deleted != rb.Deleted || !bytes.Equal(ra.Value, rb.Value) || (!ra.Deleted && ra.Expires != rb.Expires) {
			t.Errorf("%s: a holds %+v (%v), b holds %+v (%v)", key, ra, fa, rb, fb)
		}
		if fa && !ra.Deleted {
			live++
		}
	}
	if live == 0 {
		t.Error("no key is live at the end: the test compared only tombstones")
	}
}

// discard is a Replicator that keeps nothing.
type discard struct{}

func (discard) Replicate(Record) uint64       { return 0 }
func (discard) ReplicateClear(Version) uint64 { return 0 }
func (discard) Wait(uint64) error             { return nil }

// Was: every replicated write allocated its record, which escaped to the
// heap through the Replicator interface (it was passed by pointer).
func TestReplicateAllocates(t *testing.T) {
	st, err := Open(&Options{Replicator: discard{}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	value := make([]byte, 512)
	if err := st.Set("k", value, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { st.Set("k", value, time.Hour) }); n != 0 {
		t.Errorf("a replicated Set allocates %v times", n)
	}
}
