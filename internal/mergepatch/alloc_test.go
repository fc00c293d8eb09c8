//go:build !race

// The race detector makes sync.Pool drop what it is given, so the steady
// state this file checks exists only without it.

package mergepatch

import "testing"

func TestAppendApplyAllocatesNothing(t *testing.T) {
	patch := []byte(`{"cart":{"total":25,"items":[{"sku":"A-1","qty":2}]},"theme":null,"new":1}`)
	target := []byte(session)
	dst := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = AppendApply(dst[:0], target, patch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendApply allocates %v times per call, want 0", allocs)
	}
}
