package testkit

import (
	"testing"
	"time"
)

// pollInterval is how long Poll sleeps between two calls of its condition:
// short next to the waits tests use (seconds), long enough that a
// condition asking a server over the network does not keep it busy.
const pollInterval = 10 * time.Millisecond

// Poll calls cond every 10ms until it returns true or timeout has passed,
// and reports whether it returned true. cond is called at least once. Poll
// is for a test that goes on either way, or that fails with what it saw
// last; Eventually fails the test by itself.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}

// Eventually waits, as Poll does, until cond returns true, and fails the
// test with t.Fatalf unless it does within timeout. what says what the
// test waits for, as a statement that holds once cond does ("b is
// ready"); the failure reads "not within 10s: b is ready".
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("not within %v: %s", timeout, what)
	}
}
