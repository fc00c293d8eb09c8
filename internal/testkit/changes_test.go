package testkit

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestChanges: each value that differs from the one before is recorded
// once, in order, the last one included however soon stop comes.
func TestChanges(t *testing.T) {
	var v atomic.Value
	v.Store("a")
	stop := Changes(time.Millisecond, func() string { return v.Load().(string) })
	Poll(20*time.Millisecond, func() bool { return false })
	v.Store("b")
	Poll(20*time.Millisecond, func() bool { return false })
	v.Store("c")
	if got := stop(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Changes = %v, want [a b c]", got)
	}
}
