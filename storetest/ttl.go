package storetest

import (
	"testing"
	"time"
)

// ttlChecks check expiry: a key is there until its ttl runs out, and never
// after, whichever method asks.
func ttlChecks() []check[Store] {
	const g = "TTL"
	return []check[Store]{
		{g, "set with ttl expires", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "kept", []byte("kept"), 0)
			before := time.Now()
			set(t, s, "k", []byte("v"), shortTTL)
			after := time.Now()
			expectExpiry(t, s, "k", []byte("v"), shortTTL, before, after)
			// An expired key is gone for every method, not only for reads,
			// even if its memory has not been reclaimed yet.
			if seen := scanAll(t, s, "", 10, nil); seen["k"] != 0 {
				t.Fatalf("Scan returned the expired key %q", "k")
			}
			if touch(t, s, "k", time.Hour) {
				t.Fatalf("Touch(%q) = true for an expired key, want false", "k")
			}
			wantMissing(t, s, "k")
			if del(t, s, "k") {
				t.Fatalf("Delete(%q) = true for an expired key, want false", "k")
			}
			wantValue(t, s, "kept", []byte("kept"))
		}},
		{g, "ttl below a millisecond still expires", func(t testing.TB, open func() Store) {
			s := open()
			// A ttl that rounds to 0ms must not turn into "no expiry".
			for _, ttl := range []time.Duration{time.Nanosecond, 500 * time.Microsecond} {
				before := time.Now()
				set(t, s, "k", []byte("v"), ttl)
				after := time.Now()
				expectExpiry(t, s, "k", []byte("v"), ttl, before, after)
			}
		}},
		{g, "zero ttl never expires", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "k", []byte("v"), 0)
			time.Sleep(shortTTL + 50*time.Millisecond)
			wantValue(t, s, "k", []byte("v"))
			if d, found := ttlOf(t, s, "k"); !found || d != 0 {
				t.Fatalf("TTL(%q) = %v, %v; want 0, true for a key without expiry", "k", d, found)
			}
		}},
		{g, "ttl reports the remaining time", func(t testing.TB, open func() Store) {
			s := open()
			for _, ttl := range []time.Duration{time.Hour, 90 * time.Second, 1500 * time.Millisecond} {
				before := time.Now()
				set(t, s, "k", []byte("v"), ttl)
				after := time.Now()
				wantTTL(t, s, "k", ttl, before, after)
			}
			if d, found := ttlOf(t, s, "missing"); found {
				t.Fatalf("TTL(%q) = %v, true for a key never set", "missing", d)
			}
		}},
		{g, "negative ttl deletes the key", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "k", []byte("v"), 0)
			set(t, s, "k", []byte("v2"), -time.Second)
			wantMissing(t, s, "k")
			set(t, s, "k", []byte("v"), time.Hour)
			set(t, s, "k", []byte("v2"), -time.Nanosecond)
			wantMissing(t, s, "k")
			set(t, s, "never", []byte("v"), -time.Second)
			wantMissing(t, s, "never")
			if n := length(t, s); n != 0 {
				t.Fatalf("Len = %d after every key was set with a negative ttl", n)
			}
		}},
		{g, "set without ttl clears an earlier ttl", func(t testing.TB, open func() Store) {
			s := open()
			start := time.Now()
			set(t, s, "k", []byte("v"), shortTTL)
			set(t, s, "k", []byte("v2"), 0)
			if d, found := ttlOf(t, s, "k"); !found || d != 0 {
				t.Fatalf("TTL(%q) = %v, %v; want 0, true after Set without ttl", "k", d, found)
			}
			time.Sleep(time.Until(start.Add(shortTTL + 50*time.Millisecond)))
			wantValue(t, s, "k", []byte("v2"))
		}},
		{g, "set with ttl replaces an earlier ttl", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "k", []byte("v"), time.Hour)
			before := time.Now()
			set(t, s, "k", []byte("v2"), shortTTL)
			after := time.Now()
			expectExpiry(t, s, "k", []byte("v2"), shortTTL, before, after)
		}},
		{g, "key set again after expiry is new", func(t testing.TB, open func() Store) {
			s := open()
			before := time.Now()
			set(t, s, "k", []byte("v"), 50*time.Millisecond)
			after := time.Now()
			expectExpiry(t, s, "k", []byte("v"), 50*time.Millisecond, before, after)
			set(t, s, "k", []byte("again"), 0)
			wantValue(t, s, "k", []byte("again"))
			if d, _ := ttlOf(t, s, "k"); d != 0 {
				t.Fatalf("TTL(%q) = %v, want 0: the key was set again without ttl", "k", d)
			}
		}},
	}
}

// touchChecks check Touch, Redis's EXPIRE: a new ttl for the value already
// stored.
func touchChecks() []check[Store] {
	const g = "Touch"
	return []check[Store]{
		{g, "touch extends the ttl and keeps the value", func(t testing.TB, open func() Store) {
			s := open()
			start := time.Now()
			set(t, s, "k", []byte("v"), shortTTL)
			before := time.Now()
			if !touch(t, s, "k", time.Hour) {
				t.Fatalf("Touch(%q) = false for a present key", "k")
			}
			after := time.Now()
			wantTTL(t, s, "k", time.Hour, before, after)
			// Sleeping past the first ttl can only make the check stricter.
			time.Sleep(time.Until(start.Add(shortTTL + 100*time.Millisecond)))
			wantValue(t, s, "k", []byte("v"))
			wantTTL(t, s, "k", time.Hour, before, after)
		}},
		{g, "touch gives a key without expiry a ttl", func(t testing.TB, open func() Store) {
			s := open()
			set(t, s, "k", []byte("v"), 0)
			before := time.Now()
			if !touch(t, s, "k", shortTTL) {
				t.Fatalf("Touch(%q) = false for a present key", "k")
			}
			after := time.Now()
			expectExpiry(t, s, "k", []byte("v"), shortTTL, before, after)
		}},
		{g, "touch on a missing key reports not found", func(t testing.TB, open func() Store) {
			s := open()
			for _, ttl := range []time.Duration{time.Hour, 0, -time.Second} {
				if touch(t, s, "missing", ttl) {
					t.Fatalf("Touch(%q, %v) = true for a key never set", "missing", ttl)
				}
				wantMissing(t, s, "missing")
			}
		}},
		{g, "touch with ttl 0 or less deletes the key", func(t testing.TB, open func() Store) {
			s := open()
			for _, ttl := range []time.Duration{0, -time.Second} {
				set(t, s, "k", []byte("v"), time.Hour)
				if !touch(t, s, "k", ttl) {
					t.Fatalf("Touch(%q, %v) = false for a present key", "k", ttl)
				}
				wantMissing(t, s, "k")
				if n := length(t, s); n != 0 {
					t.Fatalf("Len = %d after Touch(%q, %v) deleted the only key", n, "k", ttl)
				}
			}
		}},
	}
}
