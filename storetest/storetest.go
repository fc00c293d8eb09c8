package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// Store is the contract every sessiond backend keeps.
type Store interface {
	// Get returns the value stored under key. An expired key is never
	// returned.
	Get(key string) (value []byte, found bool, err error)
	// Set stores value under key. ttl > 0 expires it after ttl; ttl == 0
	// means no expiry; ttl < 0 deletes the key (it is already expired),
	// like Redis.
	Set(key string, value []byte, ttl time.Duration) error
	// Touch gives an existing key a new ttl without rewriting its value;
	// ttl <= 0 deletes it (Redis EXPIRE semantics). found is false if the
	// key did not exist (or had expired).
	Touch(key string, ttl time.Duration) (found bool, err error)
	// TTL returns the remaining time to live; ttl is 0 for a key without
	// expiry.
	TTL(key string) (ttl time.Duration, found bool, err error)
	// Delete removes key and reports whether it existed.
	Delete(key string) (found bool, err error)
	// Exists reports whether key is present.
	Exists(key string) (bool, error)
	// Len counts the keys. Keys that expired may be counted until they
	// are reclaimed, which happens within about a second.
	Len() (int, error)
	// Clear removes every key.
	Clear() error
	// Scan has Redis SCAN semantics: start with cursor 0; a returned next
	// of 0 ends the scan; every key present for the whole scan is returned
	// at least once; count is a hint (<=0 means 10); match is a Redis glob
	// ("" matches everything). The cursor is opaque.
	Scan(cursor uint64, match string, count int) (keys []string, next uint64, err error)
}

// Versioned is a Store that merges records by version (replication is built
// on it).
type Versioned interface {
	Store
	// Apply stores rec if its version is higher than the version held for
	// rec.Key (a live record, an expired one not yet reclaimed, or a
	// tombstone), and reports whether it did. rec.Deleted applies a delete
	// (a tombstone).
	Apply(rec sessiond.Record) (applied bool, err error)
	// Load returns the record held for key, tombstones included (Deleted
	// set), expired ones excluded.
	Load(key string) (rec sessiond.Record, found bool, err error)
}

// Run runs the conformance tests against stores made by open. open must
// return a new, empty store for each call (the suite calls it per subtest)
// and register its cleanup with t.Cleanup.
//
// Subtests are grouped by method; the subtests of one group run in
// parallel. Run returns when every subtest has finished.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	runChecks(t, storeChecks(), open)
}

// RunVersioned runs Run plus the version and tombstone tests. The stores
// must keep tombstones.
func RunVersioned(t *testing.T, open func(t *testing.T) Versioned) {
	t.Helper()
	runChecks(t, storeChecks(), func(t *testing.T) Store { return open(t) })
	runChecks(t, versionedChecks(), open)
}

// A check is one rule of the contract. It takes a testing.TB rather than a
// *testing.T so that the suite's own tests can run it against broken stores
// and see it fail; for the same reason it gets a function that opens stores
// rather than a store, and never calls t.Run.
type check[S Store] struct {
	group string // the method or topic, the first level of subtests
	name  string // the rule, as a sentence
	run   func(t testing.TB, open func() S)
}

// storeChecks lists the checks every Store runs, in the order they run.
func storeChecks() []check[Store] {
	var cs []check[Store]
	cs = append(cs, getSetChecks()...)
	cs = append(cs, ttlChecks()...)
	cs = append(cs, touchChecks()...)
	cs = append(cs, deleteChecks()...)
	cs = append(cs, lenChecks()...)
	cs = append(cs, scanChecks()...)
	cs = append(cs, concurrencyChecks()...)
	return cs
}

// versionedChecks lists the checks a Versioned store runs on top of
// storeChecks.
func versionedChecks() []check[Versioned] {
	var cs []check[Versioned]
	cs = append(cs, applyChecks()...)
	cs = append(cs, tombstoneChecks()...)
	cs = append(cs, loadChecks()...)
	cs = append(cs, clockChecks()...)
	cs = append(cs, mergeChecks()...)
	return cs
}

// runChecks runs checks as subtests group/name. Groups run one after the
// other; the checks inside a group run in parallel, which keeps a slow
// (network) backend's total time near that of its slowest check per group
// without Run returning before the work is done.
func runChecks[S Store](t *testing.T, checks []check[S], open func(t *testing.T) S) {
	t.Helper()
	for i := 0; i < len(checks); {
		group := checks[i].group
		j := i
		for j < len(checks) && checks[j].group == group {
			j++
		}
		inGroup := checks[i:j]
		t.Run(group, func(t *testing.T) {
			for _, c := range inGroup {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, func() S { return openEmpty(t, open) })
				})
			}
		})
		i = j
	}
}

// openEmpty opens a store and checks that it is empty, so that a harness
// that hands out a shared or reused store fails loudly and at once rather
// than through some unrelated check.
func openEmpty[S Store](t *testing.T, open func(t *testing.T) S) S {
	t.Helper()
	s := open(t)
	n, err := s.Len()
	if err != nil {
		t.Fatalf("Len of a newly opened store: %v", err)
	}
	if n != 0 {
		t.Fatalf("open returned a store holding %d keys; it must return a new, empty store for each call", n)
	}
	return s
}

// Timing of the expiry checks. Expiry is exact from the client's view, up to
// clockSlack, which covers stores that keep expiry in whole milliseconds and
// the disagreement between the test's clock and the store's.
const (
	clockSlack   = 10 * time.Millisecond
	pollInterval = 5 * time.Millisecond
	// expiryWait is how long past its expiry a key may still be present
	// to Len (until reclaimed), and the deadline for polls that wait for
	// something to happen.
	expiryWait = 3 * time.Second
	// shortTTL is the ttl of keys that a check waits to see expire.
	shortTTL = 200 * time.Millisecond
)

// The helpers below call a method, fail the check on an error, and return
// the results. They call t.Fatalf, so they run only on the check's own
// goroutine.

func get(t testing.TB, s Store, key string) ([]byte, bool) {
	t.Helper()
	v, found, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, found
}

func set(t testing.TB, s Store, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(key, value, ttl); err != nil {
		t.Fatalf("Set(%q, %s, %v): %v", key, show(value), ttl, err)
	}
}

func touch(t testing.TB, s Store, key string, ttl time.Duration) bool {
	t.Helper()
	found, err := s.Touch(key, ttl)
	if err != nil {
		t.Fatalf("Touch(%q, %v): %v", key, ttl, err)
	}
	return found
}

func ttlOf(t testing.TB, s Store, key string) (time.Duration, bool) {
	t.Helper()
	d, found, err := s.TTL(key)
	if err != nil {
		t.Fatalf("TTL(%q): %v", key, err)
	}
	return d, found
}

func del(t testing.TB, s Store, key string) bool {
	t.Helper()
	found, err := s.Delete(key)
	if err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
	return found
}

func exists(t testing.TB, s Store, key string) bool {
	t.Helper()
	ok, err := s.Exists(key)
	if err != nil {
		t.Fatalf("Exists(%q): %v", key, err)
	}
	return ok
}

func length(t testing.TB, s Store) int {
	t.Helper()
	n, err := s.Len()
	if err != nil {
		t.Fatalf("Len: %v", err)
	}
	return n
}

func apply(t testing.TB, s Versioned, rec sessiond.Record) bool {
	t.Helper()
	ok, err := s.Apply(rec)
	if err != nil {
		t.Fatalf("Apply(%s): %v", showRecord(rec), err)
	}
	return ok
}

func load(t testing.TB, s Versioned, key string) (sessiond.Record, bool) {
	t.Helper()
	rec, found, err := s.Load(key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return rec, found
}

// wantValue checks that key holds want, through Get and Exists.
func wantValue(t testing.TB, s Store, key string, want []byte) {
	t.Helper()
	got, found := get(t, s, key)
	if !found {
		t.Fatalf("Get(%q) found nothing, want %s", key, show(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %s, want %s", key, show(got), show(want))
	}
	if !exists(t, s, key) {
		t.Fatalf("Exists(%q) = false after Get found it", key)
	}
}

// wantMissing checks that Get, Exists and TTL all agree that key is absent.
func wantMissing(t testing.TB, s Store, key string) {
	t.Helper()
	if v, found := get(t, s, key); found {
		t.Fatalf("Get(%q) = %s, want not found", key, show(v))
	}
	if exists(t, s, key) {
		t.Fatalf("Exists(%q) = true, want false", key)
	}
	if d, found := ttlOf(t, s, key); found {
		t.Fatalf("TTL(%q) = %v, found; want not found", key, d)
	}
}

// wantTTL checks that TTL of key, which was given ttl between before and
// after, is in (0, ttl] and agrees with that expiry.
func wantTTL(t testing.TB, s Store, key string, ttl time.Duration, before, after time.Time) {
	t.Helper()
	start := time.Now()
	rem, found := ttlOf(t, s, key)
	end := time.Now()
	if !found {
		t.Fatalf("TTL(%q) found nothing; the key was set with ttl %v", key, ttl)
	}
	if msg := checkRemaining(rem, ttl, before, after, start, end); msg != "" {
		t.Fatalf("TTL(%q) = %v: %s", key, rem, msg)
	}
}

// checkRemaining says what is wrong with rem, the remaining ttl reported by
// a call made between start and end for a key given ttl between before and
// after, or "" if nothing is.
func checkRemaining(rem, ttl time.Duration, before, after, start, end time.Time) string {
	switch {
	case rem <= 0:
		return fmt.Sprintf("want a value in (0, %v] for a key with an expiry (0 means no expiry)", ttl)
	case rem > ttl:
		return fmt.Sprintf("longer than the ttl %v the key was given", ttl)
	}
	// The store read its clock between start and end, so it puts the
	// expiry between start+rem and end+rem, and that must overlap when the
	// key really expires.
	earliest, latest := before.Add(ttl-clockSlack), after.Add(ttl+clockSlack)
	if end.Add(rem).Before(earliest) || start.Add(rem).After(latest) {
		return fmt.Sprintf("puts the expiry %v from the call, but the key was given ttl %v %v before it",
			rem, ttl, start.Sub(before).Round(time.Millisecond))
	}
	return ""
}

// expectExpiry polls key, which was given ttl (holding value) between before
// and after, until it expires. Every answer must agree with that expiry: a
// call that ended before it must find the key, a call that started after it
// must not, Get, Exists and TTL take turns, and once the key is gone it
// stays gone for all of them. The wait is bounded; no answer depends on how
// long a sleep lasted.
func expectExpiry(t testing.TB, s Store, key string, value []byte, ttl time.Duration, before, after time.Time) {
	t.Helper()
	earliest, latest := before.Add(ttl-clockSlack), after.Add(ttl+clockSlack)
	deadline := latest.Add(expiryWait)
	for i := 0; ; i++ {
		var (
			method string
			found  bool
		)
		start := time.Now()
		switch i % 3 {
		case 0:
			method = "Get"
			var v []byte
			v, found = get(t, s, key)
			if found && !bytes.Equal(v, value) {
				t.Fatalf("Get(%q) = %s, want %s", key, show(v), show(value))
			}
		case 1:
			method = "Exists"
			found = exists(t, s, key)
		case 2:
			method = "TTL"
			var rem time.Duration
			rem, found = ttlOf(t, s, key)
			if found {
				if msg := checkRemaining(rem, ttl, before, after, start, time.Now()); msg != "" {
					t.Fatalf("TTL(%q) = %v: %s", key, rem, msg)
				}
			}
		}
		end := time.Now()
		if found && start.After(latest) {
			t.Fatalf("%s(%q) found the key %v after its expiry (ttl %v); an expired key must never be returned",
				method, key, start.Sub(after.Add(ttl)).Round(time.Millisecond), ttl)
		}
		if !found {
			if end.Before(earliest) {
				t.Fatalf("%s(%q) found nothing %v before the key's expiry (ttl %v)",
					method, key, earliest.Sub(end).Round(time.Millisecond), ttl)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %q with ttl %v was still there %v after its expiry", key, ttl, expiryWait)
		}
		time.Sleep(pollInterval)
	}
	wantMissing(t, s, key)
}

// show formats a value for a failure message: quoted, cut after 32 bytes,
// with its length.
func show(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) <= 32 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:32], len(b))
}

func showRecord(r sessiond.Record) string {
	if r.Deleted {
		return fmt.Sprintf("{%q tombstone v%d.%d}", r.Key, r.Version.Time, r.Version.Node)
	}
	return fmt.Sprintf("{%q %s expires %d flags %d v%d.%d}",
		r.Key, show(r.Value), r.Expires, r.Flags, r.Version.Time, r.Version.Node)
}
