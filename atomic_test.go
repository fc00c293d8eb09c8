package sessiond

import (
	"errors"
	"testing"
	"time"
)

func TestAtomicOps(t *testing.T) {
	clk := newFakeClock()
	st := openTest(t, &Options{Now: clk.Now})
	now := clk.unixMilli()

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
	if v, found, _ := st.GetExpire(nil, "e", 0, true); !found || string(v) != "x" {
		t.Fatalf("GetExpire persist = %q, %v", v, found)
	}
	if ttl, _, _ := st.TTL("e"); ttl != 0 {
		t.Fatalf("after GETEX PERSIST, TTL = %v", ttl)
	}
	if _, found, _ := st.GetExpire(nil, "e", -1, true); !found {
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
