package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// maxScanCalls bounds one full scan, so that a cursor that never returns to
// 0 fails the check instead of hanging it. Count is only a hint and a page
// may be empty, so the bound is generous.
const maxScanCalls = 100_000

// scanAll runs a full scan from cursor 0 and returns how many times each key
// came back. between, if not nil, runs after every call that does not end
// the scan.
func scanAll(t testing.TB, s Store, match string, count int, between func()) map[string]int {
	t.Helper()
	seen := make(map[string]int)
	var cursor uint64
	for calls := 1; ; calls++ {
		keys, next, err := s.Scan(cursor, match, count)
		if err != nil {
			t.Fatalf("Scan(%d, %q, %d): %v", cursor, match, count, err)
		}
		for _, k := range keys {
			seen[k]++
		}
		if next == 0 {
			return seen
		}
		if calls == maxScanCalls {
			t.Fatalf("Scan(_, %q, %d) did not end after %d calls", match, count, calls)
		}
		cursor = next
		if between != nil {
			between()
		}
	}
}

// keysOf returns the keys of seen, sorted, for failure messages; it cuts
// the list after 20 keys.
func keysOf(seen map[string]int) []string {
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 20 {
		keys = append(keys[:20], fmt.Sprintf("... (%d keys)", len(keys)))
	}
	return keys
}

// scanChecks check Scan's guarantees: every key present for the whole scan
// comes back at least once, whatever the count and whatever else changes,
// and nothing comes back that was never there.
func scanChecks() []check[Store] {
	const g = "Scan"
	cs := []check[Store]{
		{g, "empty store ends at once", func(t testing.TB, open func() Store) {
			s := open()
			for _, match := range []string{"", "*", "sess:*"} {
				keys, next, err := s.Scan(0, match, 10)
				if err != nil {
					t.Fatalf("Scan(0, %q, 10): %v", match, err)
				}
				if len(keys) != 0 || next != 0 {
					t.Fatalf("Scan(0, %q, 10) on an empty store = %q, %d; want no keys and cursor 0", match, keys, next)
				}
			}
		}},
	}
	for _, count := range []int{1, 7, 1000} {
		cs = append(cs, check[Store]{g, fmt.Sprintf("covers every key with count %d", count),
			func(t testing.TB, open func() Store) { scanCovers(t, open(), 2000, count) }})
	}
	cs = append(cs, []check[Store]{
		{g, "count 0 or less means the default", func(t testing.TB, open func() Store) {
			s := open()
			for _, count := range []int{0, -1} {
				scanCovers(t, s, 100, count)
			}
		}},
		{g, "keys present throughout are returned despite writes", scanUnderWrites},
		{g, "match selects keys by glob", scanMatch},
	}...)
	return cs
}

// scanCovers sets n keys (if not there yet) and checks that a full scan with
// count returns each of them and no other.
func scanCovers(t testing.TB, s Store, n, count int) {
	t.Helper()
	for i := range n {
		set(t, s, fmt.Sprintf("key:%d", i), []byte("v"), 0)
	}
	seen := scanAll(t, s, "", count, nil)
	missing := 0
	for i := range n {
		k := fmt.Sprintf("key:%d", i)
		if seen[k] == 0 {
			if missing < 10 {
				t.Errorf("Scan with count %d never returned key %q", count, k)
			}
			missing++
		}
		delete(seen, k)
	}
	if missing > 0 {
		t.Errorf("Scan with count %d missed %d of %d keys", count, missing, n)
	}
	if len(seen) > 0 {
		t.Errorf("Scan with count %d returned keys that were never set: %q", count, keysOf(seen))
	}
}

// scanUnderWrites scans while, between Scan calls, new keys are added, old
// ones deleted and the keys under test overwritten and touched. The keys
// that are there for the whole scan must all come back. Key names are
// spread over the key space (a different first letter for neighbours) so
// that a store that orders keys sees changes before and after its cursor.
func scanUnderWrites(t testing.TB, open func() Store) {
	s := open()
	stable := func(i int) string { return fmt.Sprintf("%c-stable-%d", 'a'+i*11%26, i) }
	transient := func(i int) string { return fmt.Sprintf("%c-transient-%d", 'a'+i*7%26, i) }
	const nStable, nTransient, perCall = 500, 100, 3
	for i := range nStable {
		set(t, s, stable(i), []byte("v"), 0)
	}
	for i := range nTransient {
		set(t, s, transient(i), []byte("v"), 0)
	}
	for _, count := range []int{5, 20} {
		oldest, next := 0, nTransient
		calls := 0
		seen := scanAll(t, s, "", count, func() {
			calls++
			for range perCall {
				set(t, s, transient(next), []byte("v"), 0)
				next++
				del(t, s, transient(oldest))
				oldest++
			}
			i := calls * 13 % nStable
			set(t, s, stable(i), []byte("overwritten"), 0)
			touch(t, s, stable((i+1)%nStable), time.Hour)
		})
		missing := 0
		for i := range nStable {
			if seen[stable(i)] == 0 {
				if missing < 10 {
					t.Errorf("Scan with count %d never returned key %q, present for the whole scan", count, stable(i))
				}
				missing++
			}
			delete(seen, stable(i))
		}
		if missing > 0 {
			t.Errorf("Scan with count %d missed %d of %d keys present for the whole scan while %d calls of writes went on",
				count, missing, nStable, calls)
		}
		for k := range seen {
			if !strings.Contains(k, "-transient-") {
				t.Errorf("Scan with count %d returned %q, which was never set", count, k)
			}
		}
		// Leave the transient keys as they were for the next count.
		for i := oldest; i < next; i++ {
			del(t, s, transient(i))
		}
		for i := range nTransient {
			set(t, s, transient(i), []byte("v"), 0)
		}
	}
}

// scanMatch checks MATCH with a table of Redis globs over keys that differ
// around the pattern's edges.
func scanMatch(t testing.TB, open func() Store) {
	s := open()
	var keys []string
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("sess:%d", i), fmt.Sprintf("user:%d", i))
	}
	keys = append(keys, "sess", "sess:", "xsess:1", "Sess:1", "session:1", "sess:1:x")
	for _, k := range keys {
		set(t, s, k, []byte("v"), 0)
	}
	tests := []struct {
		match string
		want  func(k string) bool
	}{
		{"", func(string) bool { return true }},
		{"*", func(string) bool { return true }},
		{"sess:*", func(k string) bool { return strings.HasPrefix(k, "sess:") }},
		{"user:1*", func(k string) bool { return strings.HasPrefix(k, "user:1") }},
		{"user:1?", func(k string) bool { return strings.HasPrefix(k, "user:1") && len(k) == len("user:1x") }},
		{"*:7", func(k string) bool { return strings.HasSuffix(k, ":7") }},
		{"user:[12]", func(k string) bool { return k == "user:1" || k == "user:2" }},
		{"user:[^0-8]", func(k string) bool { return k == "user:9" }},
		{"user:42", func(k string) bool { return k == "user:42" }},
		{"nomatch*", func(string) bool { return false }},
	}
	for _, tt := range tests {
		seen := scanAll(t, s, tt.match, 10, nil)
		missed, extra := make(map[string]int), make(map[string]int)
		for _, k := range keys {
			switch {
			case tt.want(k) && seen[k] == 0:
				missed[k] = 1
			case !tt.want(k) && seen[k] != 0:
				extra[k] = 1
			}
			delete(seen, k)
		}
		if len(missed) > 0 {
			t.Errorf("Scan MATCH %q did not return %q", tt.match, keysOf(missed))
		}
		if len(extra) > 0 {
			t.Errorf("Scan MATCH %q returned %q, which do not match", tt.match, keysOf(extra))
		}
		if len(seen) > 0 {
			t.Errorf("Scan MATCH %q returned keys that were never set: %q", tt.match, keysOf(seen))
		}
	}
}
