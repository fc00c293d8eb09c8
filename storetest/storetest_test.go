package storetest

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestMemStore runs the whole suite against the reference store: the suite
// must pass against a correct store.
func TestMemStore(t *testing.T) {
	t.Parallel()
	RunVersioned(t, func(t *testing.T) Versioned { return newMemStore(0) })
}

// TestRunPlainStore runs the suite's entry point for unversioned stores,
// which must not need more than Store.
func TestRunPlainStore(t *testing.T) {
	t.Parallel()
	type plain struct{ Store } // hides Apply and Load
	Run(t, func(t *testing.T) Store { return plain{newMemStore(0)} })
}

// TestSuiteCatchesBugs runs checks against copies of the reference store
// with one deliberate bug each, and asserts that at least one of the named
// checks fails: a suite that passes a broken store is itself broken. It
// also runs the same checks against the correct store through the same
// recorder, so that a failure there (a check that fails for the wrong
// reason) shows too.
func TestSuiteCatchesBugs(t *testing.T) {
	tests := []struct {
		bug    bug
		name   string
		checks []string // group/name of the checks expected to catch it
	}{
		{bugGetExpired, "get returns expired records", []string{"TTL/set with ttl expires"}},
		{bugSubMilliNoExpiry, "ttl under 1ms means no expiry", []string{"TTL/ttl below a millisecond still expires"}},
		{bugNegativeTTLKeeps, "negative ttl stores", []string{"TTL/negative ttl deletes the key"}},
		{bugAliasValue, "values are not copied", []string{"GetSet/values are copied in and out", "Apply/apply copies the value"}},
		{bugTouchMissing, "touch finds missing keys", []string{"Touch/touch on a missing key reports not found"}},
		{bugScanDropsLast, "scan drops a key per page", []string{"Scan/covers every key with count 7"}},
		{bugScanIndexCursor, "scan cursor is an index", []string{"Scan/keys present throughout are returned despite writes"}},
		{bugScanIgnoresMatch, "scan ignores match", []string{"Scan/match selects keys by glob"}},
		{bugApplyLower, "apply accepts lower versions", []string{"Apply/lower or equal version is refused", "Merge/apply order does not change the result"}},
		{bugApplyEqual, "apply accepts equal versions", []string{"Apply/lower or equal version is refused", "Tombstones/lower version does not bring a deleted key back"}},
		{bugApplyDropsExpired, "apply drops expired records", []string{"Apply/applied record that already expired is not returned"}},
		{bugClockIgnoresApplied, "clock ignores applied versions", []string{"Clock/local write after apply gets a higher version", "Clock/clock moves past applied versions on every key"}},
		{bugDeleteNoTombstone, "delete leaves no tombstone", []string{"Tombstones/local delete leaves a tombstone"}},
		{bugLenCountsTombstones, "len counts tombstones", []string{"Tombstones/tombstone hides the key", "Tombstones/tombstone for a key never seen is kept"}},
		{bugTouchKeepsVersion, "touch keeps the version", []string{"Clock/touch stamps a new version"}},
	}
	t.Parallel()
	checks := allChecks()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range tt.checks {
				run, ok := checks[name]
				if !ok {
					t.Fatalf("no check named %q", name)
				}
				if r := record(t, func(tb testing.TB) { run(tb, func() Versioned { return newMemStore(0) }) }); r.Failed() {
					t.Errorf("check %q fails against the correct store: %s", name, r.report())
					continue
				}
				r := record(t, func(tb testing.TB) { run(tb, func() Versioned { return newMemStore(tt.bug) }) })
				if !r.Failed() {
					t.Errorf("check %q passes against a store whose %s", name, tt.name)
					continue
				}
				t.Logf("check %q caught it: %s", name, r.report())
			}
		})
	}
}

// allChecks returns every check by "group/name", each taking a Versioned
// opener.
func allChecks() map[string]func(testing.TB, func() Versioned) {
	m := make(map[string]func(testing.TB, func() Versioned))
	for _, c := range storeChecks() {
		m[c.group+"/"+c.name] = func(t testing.TB, open func() Versioned) {
			c.run(t, func() Store { return open() })
		}
	}
	for _, c := range versionedChecks() {
		m[c.group+"/"+c.name] = c.run
	}
	return m
}

// TestCheckNamesAreUnique guards the subtest names: two checks with one name
// would hide each other from -run and from allChecks.
func TestCheckNamesAreUnique(t *testing.T) {
	seen := make(map[string]bool)
	var names []string
	for _, c := range storeChecks() {
		names = append(names, c.group+"/"+c.name)
	}
	for _, c := range versionedChecks() {
		names = append(names, c.group+"/"+c.name)
	}
	for _, n := range names {
		if seen[n] {
			t.Errorf("two checks named %q", n)
		}
		seen[n] = true
	}
}

// TestGlobMatch checks the reference store's matcher on the patterns the
// suite uses and Redis's corners that it supports.
func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"sess:*", "sess:1", true},
		{"sess:*", "sess:", true},
		{"sess:*", "sess", false},
		{"sess:*", "xsess:1", false},
		{"*:7", "user:7", true},
		{"*:7", "user:17", false},
		{"user:1?", "user:12", true},
		{"user:1?", "user:1", false},
		{"user:[12]", "user:2", true},
		{"user:[12]", "user:3", false},
		{"user:[^0-8]", "user:9", true},
		{"user:[^0-8]", "user:5", false},
		{"[a-c]x", "bx", true},
		{"[c-a]x", "bx", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// recorder is a testing.TB that records failures instead of reporting them,
// so that a check can be run against a store expected to fail it. Fatal and
// FailNow end the check's goroutine with runtime.Goexit, as testing does.
// Methods it does not override go to the embedded test, and checks use none
// that would fail it.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	cleanups []func()
}

// record runs fn with a recorder on a goroutine of its own, and returns the
// recorder when fn has returned or called FailNow, after its cleanups.
func record(t *testing.T, fn func(t testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.runCleanups()
		fn(r)
	}()
	<-done
	return r
}

func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func (r *recorder) report() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) > 3 {
		return fmt.Sprintf("%s; and %d more", strings.Join(r.msgs[:3], "; "), len(r.msgs)-3)
	}
	return strings.Join(r.msgs, "; ")
}

func (r *recorder) log(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, strings.TrimSuffix(s, "\n"))
}

func (r *recorder) Helper() {}

func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) FailNow() {
	r.Fail()
	runtime.Goexit()
}

func (r *recorder) Log(args ...any)                 {}
func (r *recorder) Logf(format string, args ...any) {}
func (r *recorder) Error(args ...any)               { r.log(fmt.Sprintln(args...)); r.Fail() }
func (r *recorder) Errorf(format string, args ...any) {
	r.log(fmt.Sprintf(format, args...))
	r.Fail()
}
func (r *recorder) Fatal(args ...any) { r.log(fmt.Sprintln(args...)); r.FailNow() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.log(fmt.Sprintf(format, args...))
	r.FailNow()
}

func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any)                 { r.SkipNow() }
func (r *recorder) Skipf(format string, args ...any) { r.SkipNow() }
func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}
