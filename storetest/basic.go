package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// getSetChecks check that what Set stores Get returns, byte for byte, for
// any key and value.
func getSetChecks() []check[Store] {
	const g = "GetSet"
	return []check[Store]{
		{g, "missing key is not found", func(t testing.TB, open func() Store) {
			s := open()
			wantMissing(t, s, "missing")
		}},
		{g, "set then get returns the value", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "k", []byte("hello"), 0)
			wantValue(t, s, "k", []byte("hello"))
			if d, found := ttlOf(t, s, "k"); !found || d != 0 {
				t.Fatalf("TTL(%q) = %v, %v; want 0, true for a key set without ttl", "k", d, found)
			}
			wantMissing(t, s, "other")
		}},
		{g, "values are copied in and out", func(t testing.TB, open func() Store) {
			s := open()
			in := []byte("original")
			set(t, s, "k", in, 0)
			copy(in, "XXXXXXXX")
			wantValue(t, s, "k", []byte("original"))
			out, _ := get(t, s, "k")
			copy(out, "YYYYYYYY")
			wantValue(t, s, "k", []byte("original"))
		}},
		{g, "set overwrites", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "k", []byte("first, and longer"), 0)
			set(t, s, "k", []byte("second"), 0)
			wantValue(t, s, "k", []byte("second"))
			set(t, s, "k", []byte("third, longer than the second"), 0)
			wantValue(t, s, "k", []byte("third, longer than the second"))
			if n := length(t, s); n != 1 {
				t.Fatalf("Len = %d after overwriting one key, want 1", n)
			}
		}},
		{g, "empty value is stored", func(t testing.TB, open func() Store) {
			s := open()
			// nil and an empty slice are the same value: zero bytes.
			for _, v := range [][]byte{{}, nil} {
				set(t, s, "k", v, 0)
				got, found := get(t, s, "k")
				if !found || len(got) != 0 {
					t.Fatalf("Get(%q) = %s, %v after Set of %s; want an empty value, found", "k", show(got), found, show(v))
				}
				if !exists(t, s, "k") {
					t.Fatalf("Exists(%q) = false for a key holding an empty value", "k")
				}
				del(t, s, "k")
			}
		}},
		{g, "binary value round trips", func(t testing.TB, open func() Store) {
			s := open()
			v := make([]byte, 0, 512+8)
			for i := range 512 {
				v = append(v, byte(i))
			}
			v = append(v, 0, 0, '\r', '\n', 0, 0xff, 0xfe, 0)
			set(t, s, "k", v, 0)
			wantValue(t, s, "k", v)
			set(t, s, "zeros", make([]byte, 100), 0)
			wantValue(t, s, "zeros", make([]byte, 100))
		}},
		{g, "empty key is a valid key", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "", []byte("empty key"), 0)
			wantValue(t, s, "", []byte("empty key"))
			if n := length(t, s); n != 1 {
				t.Fatalf("Len = %d with only the empty key set, want 1", n)
			}
			if seen := scanAll(t, s, "", 10, nil); seen[""] == 0 {
				t.Fatalf("Scan did not return the empty key; it returned %q", keysOf(seen))
			}
			if !del(t, s, "") {
				t.Fatalf("Delete(%q) = false for a present key", "")
			}
			wantMissing(t, s, "")
		}},
		{g, "keys are binary safe and distinct", func(t testing.TB, open func() Store) {
			s := open()
			keys := []string{"k", "K", "k ", " k", "k\x00", "k\x00x", "\x00", "a b", "\r\n", "ключ", "\xff\xfe", "k*", "k?", "k[1]"}
			for i, k := range keys {
				set(t, s, k, fmt.Appendf(nil, "value %d", i), 0)
			}
			for i, k := range keys {
				wantValue(t, s, k, fmt.Appendf(nil, "value %d", i))
			}
			if n := length(t, s); n != len(keys) {
				t.Fatalf("Len = %d after setting %d distinct keys", n, len(keys))
			}
			seen := scanAll(t, s, "", 5, nil)
			for _, k := range keys {
				if seen[k] == 0 {
					t.Errorf("Scan did not return key %q", k)
				}
			}
			if len(seen) != len(keys) {
				t.Errorf("Scan returned %d distinct keys, want %d: %q", len(seen), len(keys), keysOf(seen))
			}
		}},
		{g, "large value round trips", func(t testing.TB, open func() Store) {
			s := open()
			v := make([]byte, 512<<10)
			for i := range v {
				v[i] = byte(i*7 + i>>10)
			}
			set(t, s, "large", v, 0)
			wantValue(t, s, "large", v)
			v2 := bytes.Repeat([]byte("x"), 300<<10)
			set(t, s, "large", v2, 0)
			wantValue(t, s, "large", v2)
		}},
	}
}

// deleteChecks check that a deleted key is gone from every method.
func deleteChecks() []check[Store] {
	const g = "Delete"
	return []check[Store]{
		{g, "delete reports whether the key existed", func(t testing.TB, open func() Store) {
			s := open()
			if del(t, s, "never") {
				t.Fatalf("Delete(%q) = true for a key never set", "never")
			}
			set(t, s, "k", []byte("v"), 0)
			if !del(t, s, "k") {
				t.Fatalf("Delete(%q) = false for a present key", "k")
			}
			if del(t, s, "k") {
				t.Fatalf("Delete(%q) = true for a key already deleted", "k")
			}
		}},
		{g, "deleted key is gone", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "gone", []byte("v"), 0)
			set(t, s, "gone-with-ttl", []byte("v"), time.Hour)
			set(t, s, "kept", []byte("kept"), 0)
			del(t, s, "gone")
			del(t, s, "gone-with-ttl")
			wantMissing(t, s, "gone")
			wantMissing(t, s, "gone-with-ttl")
			wantValue(t, s, "kept", []byte("kept"))
			if n := length(t, s); n != 1 {
				t.Fatalf("Len = %d after deleting 2 of 3 keys, want 1", n)
			}
			seen := scanAll(t, s, "", 10, nil)
			if seen["gone"] != 0 || seen["gone-with-ttl"] != 0 || seen["kept"] == 0 || len(seen) != 1 {
				t.Fatalf("Scan returned %q, want only %q", keysOf(seen), "kept")
			}
			if touch(t, s, "gone", time.Hour) {
				t.Fatalf("Touch(%q) = true for a deleted key", "gone")
			}
			wantMissing(t, s, "gone")
		}},
		{g, "deleted key can be set again", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "k", []byte("old"), time.Hour)
			del(t, s, "k")
			set(t, s, "k", []byte("new"), 0)
			wantValue(t, s, "k", []byte("new"))
			if d, _ := ttlOf(t, s, "k"); d != 0 {
				t.Fatalf("TTL(%q) = %v, want 0: the key was set again without ttl", "k", d)
			}
		}},
	}
}

// lenChecks check Len and Clear.
func lenChecks() []check[Store] {
	return []check[Store]{
		{"Len", "len counts keys", func(t testing.TB, open func() Store) {
			s := open()
			for i := range 50 {
				set(t, s, fmt.Sprint("k", i), []byte("v"), 0)
				if n := length(t, s); n != i+1 {
					t.Fatalf("Len = %d after setting %d keys", n, i+1)
				}
			}
			for i := range 50 {
				set(t, s, fmt.Sprint("k", i), []byte("overwritten"), time.Hour)
			}
			if n := length(t, s); n != 50 {
				t.Fatalf("Len = %d after overwriting 50 keys, want 50", n)
			}
			for i := range 10 {
				del(t, s, fmt.Sprint("k", i))
			}
			if n := length(t, s); n != 40 {
				t.Fatalf("Len = %d after deleting 10 of 50 keys, want 40", n)
			}
		}},
		{"Len", "expired keys stop being counted", func(t testing.TB, open func() Store) {
			s := open()
			for i := range 20 {
				set(t, s, fmt.Sprint("short", i), []byte("v"), 100*time.Millisecond)
			}
			for i := range 5 {
				set(t, s, fmt.Sprint("long", i), []byte("v"), 0)
			}
			var n int
			if !testkit.Poll(expiryWait, func() bool {
				n = length(t, s)
				if n < 5 || n > 25 {
					t.Fatalf("Len = %d with 5 keys without ttl and 20 expiring ones", n)
				}
				return n == 5
			}) {
				t.Fatalf("after %v: Len = %d, want 5: expired keys must be reclaimed within about a second", expiryWait, n)
			}
		}},
		{"Clear", "clear removes every key", func(t testing.TB, open func() Store) {
			s := open()
			for i := range 100 {
				ttl := time.Duration(0)
				if i%2 == 0 {
					ttl = time.Hour
				}
				set(t, s, fmt.Sprint("k", i), []byte("v"), ttl)
			}
			if err := s.Clear(); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			if n := length(t, s); n != 0 {
				t.Fatalf("Len = %d after Clear", n)
			}
			for i := range 100 {
				wantMissing(t, s, fmt.Sprint("k", i))
			}
			if seen := scanAll(t, s, "", 10, nil); len(seen) != 0 {
				t.Fatalf("Scan after Clear returned %q", keysOf(seen))
			}
			set(t, s, "k1", []byte("after"), 0)
			wantValue(t, s, "k1", []byte("after"))
			if n := length(t, s); n != 1 {
				t.Fatalf("Len = %d after Clear and one Set", n)
			}
		}},
		{"Clear", "clear on an empty store", func(t testing.TB, open func() Store) {
			s := open()
			if err := s.Clear(); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			if n := length(t, s); n != 0 {
				t.Fatalf("Len = %d after Clear", n)
			}
		}},
	}
}
