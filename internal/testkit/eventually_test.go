package testkit

import (
	"fmt"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records its message, so that
// a test can see how Eventually fails.
type fatalRecorder struct {
	testing.TB
	failure string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.failure = fmt.Sprintf(format, args...) }

func TestPoll(t *testing.T) {
	tests := []struct {
		name    string
		holdsAt int // the call from which cond returns true; 0 for never
		want    bool
	}{
		{"a condition that holds at once", 1, true},
		{"a condition that holds after a few calls", 4, true},
		{"a condition that never holds", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got := Poll(200*time.Millisecond, func() bool {
				calls++
				return tc.holdsAt != 0 && calls >= tc.holdsAt
			})
			if got != tc.want {
				t.Errorf("Poll = %v, want %v", got, tc.want)
			}
			if tc.want && calls != tc.holdsAt {
				t.Errorf("cond called %d times, want %d: Poll stops at the first true", calls, tc.holdsAt)
			}
			if !tc.want && calls < 2 {
				t.Errorf("cond called %d times in 200ms, want it polled", calls)
			}
		})
	}
}

func TestEventuallyFailsSayingWhat(t *testing.T) {
	r := &fatalRecorder{TB: t}
	Eventually(r, 30*time.Millisecond, "the key is gone", func() bool { return false })
	if want := "not within 30ms: the key is gone"; r.failure != want {
		t.Errorf("failure %q, want %q", r.failure, want)
	}
	r = &fatalRecorder{TB: t}
	Eventually(r, time.Second, "the key is gone", func() bool { return true })
	if r.failure != "" {
		t.Errorf("a condition that holds failed the test: %q", r.failure)
	}
}
