package sessiond

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

func TestAtomicOps(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Now: clk.Now})
	now := clk.Now().UnixMilli()

	st.Set("k", []byte("v1"), 0)
	old, found, _, err := st.WriteGet(nil, "k", []byte("v2"), WriteOptions{})
	if err != nil || !found || string(old) != "v1" {
		t.Fatalf("WriteGet = %q, %v, %v", old, found, err)
	}
	// A failed condition still returns the old value, and writes nothing.
	old, found, _, err = st.WriteGet(nil, "k", []byte("v3"), WriteOptions{Cond: IfAbsent})
	if !errors.Is(err, ErrNotStored) || !found || string(old) != "v2" {
		t.Fatalf("WriteGet NX on a present key = %q, %v, %v", old, found, err)
	}
	if v, _, _ := st.Get("k"); string(v) != "v2" {
		t.Fatalf("after a failed NX, value = %q", v)
	}

	v, found, _ := st.Take(nil, "k")
	if !found || string(v) != "v2" {
		t.Fatalf("Take = %q, %v", v, found)
	}
	if _, found, _ := st.Take(nil, "k"); found {
		t.Fatal("Take of a taken key found it")
	}

	st.Set("e", []byte("x"), time.Hour)
	_, before, _, _ := st.Lookup(nil, "e")
	if v, it, found, _ := st.GetExpire(nil, "e", 0, true); !found || string(v) != "x" || it.Expires != 0 || it.Version == before.Version {
		t.Fatalf("GetExpire persist = %q, %+v, %v (before: %+v)", v, it, found, before)
	}
	if ttl, _, _ := st.TTL("e"); ttl != 0 {
		t.Fatalf("after GETEX PERSIST, TTL = %v", ttl)
	}
	if _, _, found, _ := st.GetExpire(nil, "e", -1, true); !found {
		t.Fatal("GetExpire with a past time did not find the key")
	}
	if ok, _ := st.Exists("e"); ok {
		t.Fatal("GetExpire with a past time left the key")
	}

	// ExpireIf's conditions, with no expiry counting as infinite.
	for _, tt := range []struct {
		name    string
		cur     int64 // the key's expiry before; 0 none
		next    int64
		cond    ExpireCond
		wantSet bool
	}{
		{"NX without expiry", 0, now + 5000, ExpireNX, true},
		{"NX with expiry", now + 1000, now + 5000, ExpireNX, false},
		{"XX without expiry", 0, now + 5000, ExpireXX, false},
		{"XX with expiry", now + 1000, now + 5000, ExpireXX, true},
		{"GT later", now + 1000, now + 5000, ExpireGT, true},
		{"GT earlier", now + 5000, now + 1000, ExpireGT, false},
		{"GT without expiry", 0, now + 5000, ExpireGT, false},
		{"LT earlier", now + 5000, now + 1000, ExpireLT, true},
		{"LT later", now + 1000, now + 5000, ExpireLT, false},
		{"LT without expiry", 0, now + 5000, ExpireLT, true},
		{"GT equal", now + 1000, now + 1000, ExpireGT, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.Write("c", []byte("v"), WriteOptions{Expires: tt.cur})
			if err != nil {
				t.Fatal(err)
			}
			found, set, err := st.ExpireIf("c", tt.next, tt.cond)
			if err != nil || !found || set != tt.wantSet {
				t.Fatalf("ExpireIf = found %v, set %v, %v; want set %v", found, set, err, tt.wantSet)
			}
			rec, _, _ := st.Load("c")
			want := tt.cur
			if tt.wantSet {
				want = tt.next
			}
			if rec.Expires != want {
				t.Fatalf("expiry %d, want %d", rec.Expires, want)
			}
		})
	}
	mustCheck(t, st)
}

func TestModify(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Now: clk.Now, MaxValueSize: 8})
	now := clk.Now().UnixMilli()
	if _, err := st.Write("k", []byte("1"), WriteOptions{Flags: 7, Expires: now + 60_000}); err != nil {
		t.Fatal(err)
	}
	_, before, _, _ := st.Lookup(nil, "k")
	it, found, err := st.Modify("k", func(cur []byte, it Item) ([]byte, error) {
		if string(cur) != "1" || it != before {
			t.Errorf("fn got %q, %+v; want \"1\", %+v", cur, it, before)
		}
		return []byte("22"), nil
	})
	if err != nil || !found || it.Flags != 7 || it.Expires != now+60_000 || it.Version == before.Version {
		t.Fatalf("Modify = %+v, %v, %v", it, found, err)
	}
	if v, got, _, _ := st.Lookup(nil, "k"); string(v) != "22" || got != it {
		t.Fatalf("after Modify: %q, %+v; want \"22\", %+v", v, got, it)
	}

	// fn's error, and a value over the limit, write nothing.
	for name, fn := range map[string]func([]byte, Item) ([]byte, error){
		"error":     func([]byte, Item) ([]byte, error) { return nil, ErrNotStored },
		"too large": func([]byte, Item) ([]byte, error) { return []byte("123456789"), nil },
	} {
		if _, found, err := st.Modify("k", fn); err == nil || !found {
			t.Errorf("%s: Modify = %v, %v; want an error", name, found, err)
		}
		if v, got, _, _ := st.Lookup(nil, "k"); string(v) != "22" || got != it {
			t.Errorf("%s: the key changed to %q, %+v", name, v, got)
		}
	}

	called := false
	if _, found, err := st.Modify("missing", func([]byte, Item) ([]byte, error) { called = true; return nil, nil }); found || err != nil || called {
		t.Fatalf("Modify of a missing key: found %v, err %v, fn called %v", found, err, called)
	}
}

// TestModifyConcurrent checks that no increment is lost however the
// goroutines interleave: each Modify reads and writes under the key's lock.
func TestModifyConcurrent(t *testing.T) {
	st := openTest(t, nil)
	st.Set("n", []byte("0"), 0)
	const workers, each = 8, 500
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range each {
				_, _, err := st.Modify("n", func(cur []byte, _ Item) ([]byte, error) {
					n, err := strconv.Atoi(string(cur))
					return strconv.AppendInt(nil, int64(n+1), 10), err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	if v, _, _ := st.Get("n"); string(v) != strconv.Itoa(workers*each) {
		t.Fatalf("after %d increments: %q", workers*each, v)
	}
}
