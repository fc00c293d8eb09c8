package sessiond

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// expiryOf returns key's expiry in unix ms as the store keeps it, 0 for
// none or a missing key.
func expiryOf(t testing.TB, st *Store, key string) int64 {
	t.Helper()
	var exp int64
	if _, err := st.Update(key, func(e *Entry) error { exp = e.it.Expires; return nil }); err != nil {
		t.Fatal(err)
	}
	return exp
}

// TestUpdate: what an Update function finds, and each change it can ask
// for, as the store then holds it.
func TestUpdate(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Now: clk.Now, MaxValueSize: 8})
	now := clk.Now().UnixMilli()
	hour := time.UnixMilli(now + 3600_000)
	if _, err := st.Write("k", []byte("1"), WriteOptions{Flags: 7, Expires: hour}); err != nil {
		t.Fatal(err)
	}
	_, before, _, _ := st.Lookup(nil, "k")

	// A function that asks for nothing reads the key, and changes nothing.
	it, err := st.Update("k", func(e *Entry) error {
		if !e.Found() || string(e.Value()) != "1" || e.Item() != before || !e.Now().Equal(clk.Now()) {
			t.Errorf("fn found %v %q %+v at %v; want \"1\" %+v at %v", e.Found(), e.Value(), e.Item(), e.Now(), before, clk.Now())
		}
		return nil
	})
	if err != nil || it != before {
		t.Fatalf("a read-only Update = %+v, %v; want %+v", it, err, before)
	}

	// Set keeps the expiry and the flags, and writes a new version.
	it, err = st.Update("k", func(e *Entry) error { e.Set([]byte("22")); return nil })
	if err != nil || it.Flags != 7 || !it.Expires().Equal(hour) || it.Version.Compare(before.Version) <= 0 {
		t.Fatalf("Set = %+v, %v; want flags 7, expiry %v, a later version than %+v", it, err, hour, before)
	}
	if v, got, _, _ := st.Lookup(nil, "k"); string(v) != "22" || got != it {
		t.Fatalf("after Set: %q, %+v; want \"22\", %+v", v, got, it)
	}

	// fn's error, and a value over the limit, change nothing.
	for name, fn := range map[string]func(*Entry) error{
		"error":     func(e *Entry) error { e.Set([]byte("3")); return ErrNotStored },
		"too large": func(e *Entry) error { e.Set([]byte("123456789")); return nil },
	} {
		got, err := st.Update("k", fn)
		if err == nil || (name == "too large") != errors.Is(err, ErrValueTooLarge) || got != it {
			t.Errorf("%s: Update = %+v, %v; want %+v, the record unchanged, and an error", name, got, err, it)
		}
		if v, got, _, _ := st.Lookup(nil, "k"); string(v) != "22" || got != it {
			t.Errorf("%s: the key changed to %q, %+v", name, v, got)
		}
	}

	// SetExpires alone: a new expiry, then none; not on a missing key.
	later := time.UnixMilli(now + 7200_000)
	if it, err := st.Update("k", func(e *Entry) error { e.SetExpires(later); return nil }); err != nil || !it.Expires().Equal(later) {
		t.Fatalf("SetExpires = %+v, %v; want expiry %v", it, err, later)
	}
	if it, err := st.Update("k", func(e *Entry) error { e.SetExpires(time.Time{}); return nil }); err != nil || !it.Expires().IsZero() {
		t.Fatalf("SetExpires(zero) = %+v, %v; want no expiry", it, err)
	}
	if it, err := st.Update("missing", func(e *Entry) error { e.SetExpires(later); return nil }); err != nil || it != (Item{}) {
		t.Fatalf("SetExpires of a missing key = %+v, %v", it, err)
	}
	if ok, _ := st.Exists("missing"); ok {
		t.Fatal("SetExpires made a missing key")
	}

	// An expiry rounds up to the millisecond: the key never expires
	// before the time asked for.
	st.Update("k", func(e *Entry) error { e.SetExpires(e.Now().Add(1500 * time.Microsecond)); return nil })
	if got := expiryOf(t, st, "k"); got != now+2 {
		t.Fatalf("expiry in 1.5ms kept as now%+d ms, want now+2", got-now)
	}

	// Set on a missing key makes it, with the expiry and flags asked for.
	it, err = st.Update("new", func(e *Entry) error {
		if e.Found() || e.Value() != nil || e.Item() != (Item{}) {
			t.Errorf("a missing key found as %v %q %+v", e.Found(), e.Value(), e.Item())
		}
		e.Set([]byte("n"))
		e.SetFlags(3)
		e.SetExpires(hour)
		return nil
	})
	if err != nil || it.Flags != 3 || !it.Expires().Equal(hour) {
		t.Fatalf("Set of a new key = %+v, %v", it, err)
	}

	// Delete, and Set after Delete; an expiry past deletes too.
	for _, tt := range []struct {
		name  string
		fn    func(e *Entry)
		found bool
	}{
		{"delete", func(e *Entry) { e.Delete() }, false},
		{"set after delete", func(e *Entry) { e.Delete(); e.Set([]byte("s")) }, true},
		{"delete after set", func(e *Entry) { e.Set([]byte("s")); e.Delete() }, false},
		{"expires past", func(e *Entry) { e.SetExpires(e.Now()) }, false},
		{"set expiring past", func(e *Entry) { e.Set([]byte("s")); e.SetExpires(time.Unix(0, 0)) }, false},
	} {
		st.Set("d", []byte("v"), 0)
		it, err := st.Update("d", func(e *Entry) error { tt.fn(e); return nil })
		found, _ := st.Exists("d")
		if err != nil || found != tt.found || (it == Item{}) == tt.found {
			t.Errorf("%s: Update = %+v, %v; the key exists: %v, want %v", tt.name, it, err, found, tt.found)
		}
	}
	mustCheck(t, st)
}

// TestUpdateConcurrent checks that no increment is lost however the
// goroutines interleave: each Update reads and writes under the key's lock.
func TestUpdateConcurrent(t *testing.T) {
	st := openTest(t, nil)
	st.Set("n", []byte("0"), 0)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := st.Update("n", func(e *Entry) error {
					n, err := strconv.Atoi(string(e.Value()))
					e.Set(strconv.AppendInt(nil, int64(n+1), 10))
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _, _ := st.Get("n"); string(v) != strconv.Itoa(workers*each) {
		t.Fatalf("after %d increments: %q", workers*each, v)
	}
}

// TestUpdatePanics: a function that panics leaves the key unchanged and
// its partition unlocked.
func TestUpdatePanics(t *testing.T) {
	st := openTest(t, &Options{Shards: 1})
	st.Set("k", []byte("v"), 0)
	func() {
		defer func() { recover() }()
		st.Update("k", func(e *Entry) error { e.Delete(); panic("fn") })
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if v, _, _ := st.Get("k"); string(v) != "v" {
			t.Errorf("after a panicking Update, k = %q", v)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the partition stayed locked after a panicking Update")
	}
}

// waitReplicator checks, in Wait, that the change's key is unlocked: a
// store waits for replicas after it unlocks, never holding the key's
// partition.
type waitReplicator struct {
	st    *Store
	key   string
	waits int
	t     *testing.T
}

func (r *waitReplicator) Replicate(Record) uint64       { return 1 }
func (r *waitReplicator) ReplicateClear(Version) uint64 { return 1 }
func (r *waitReplicator) Wait(uint64) error {
	r.waits++
	sh := &r.st.shards[r.st.hash(r.key)&r.st.mask]
	if !sh.mu.TryLock() {
		r.t.Errorf("wait %d: the key's partition is locked while the store waits for replicas", r.waits)
		return nil
	}
	sh.mu.Unlock()
	return nil
}

// TestChangeWaitsUnlocked: every kind of local change waits for its
// replicas after it unlocks the key, and before it returns.
func TestChangeWaitsUnlocked(t *testing.T) {
	r := &waitReplicator{key: "k", t: t}
	st := openTest(t, &Options{Replicator: r})
	r.st = st
	for _, change := range []func() error{
		func() error { return st.Set("k", []byte("v"), 0) },
		func() error { _, err := st.Write("k", []byte("w"), WriteOptions{TTL: time.Hour}); return err },
		func() error { _, err := st.Touch("k", time.Minute); return err },
		func() error {
			_, err := st.Update("k", func(e *Entry) error { e.Set([]byte("u")); return nil })
			return err
		},
		func() error { _, err := st.Delete("k"); return err },
	} {
		if err := change(); err != nil {
			t.Fatal(err)
		}
	}
	if r.waits != 5 {
		t.Fatalf("%d waits for 5 changes", r.waits)
	}
}

// TestUpdateAllocs: the server's read-modify-write commands cost no
// allocation of the store's: the function's Entry lives in the partition,
// and a closure passed to Update stays on the caller's stack.
func TestUpdateAllocs(t *testing.T) {
	st := openTest(t, nil)
	st.Set("k", []byte("0123456789"), time.Hour)
	buf := make([]byte, 0, 64)
	found := false
	allocs := testing.AllocsPerRun(100, func() {
		st.Update("k", func(e *Entry) error {
			if found = e.Found(); found {
				buf = append(buf[:0], e.Value()...)
				e.Set(buf)
				e.SetExpires(e.Now().Add(time.Hour))
			}
			return nil
		})
	})
	if allocs != 0 || !found {
		t.Fatalf("an Update allocates %v times (found %v)", allocs, found)
	}
}

// TestUpdateKeyTooLong: a key longer than MaxKeySize cannot be stored, so
// Update finds it missing; only a Set of it fails.
func TestUpdateKeyTooLong(t *testing.T) {
	st := openTest(t, nil)
	long := strings.Repeat("k", MaxKeySize+1)
	if _, err := st.Update(long, func(e *Entry) error {
		if e.Found() {
			t.Error("a key too long to store was found")
		}
		e.SetExpires(st.Now().Add(time.Hour)) // of no key: nothing
		return nil
	}); err != nil {
		t.Fatalf("Update reading a key too long: %v", err)
	}
	if _, found, err := st.TTL(long); found || err != nil {
		t.Fatalf("TTL of a key too long: found %v, %v", found, err)
	}
	_, err := st.Update(long, func(e *Entry) error {
		e.Set([]byte("v"))
		return nil
	})
	if !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("Update setting a key too long: %v; want ErrKeyTooLarge", err)
	}
}
