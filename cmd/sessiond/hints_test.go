package main

import (
	"errors"
	"fmt"
	"testing"
)

// TestExplain: an error a library refused a setting with is printed with
// the flags that change it, however deep it is wrapped; others as they are.
func TestExplain(t *testing.T) {
	for _, h := range flagHints {
		err := fmt.Errorf("cluster: %w", fmt.Errorf("%w: details", h.err))
		if got, want := explain(err), err.Error()+" ("+h.flags+")"; got != want {
			t.Errorf("explain(%q) = %q, want %q", err, got, want)
		}
	}
	if err := errors.New("cluster: data listener: address in use"); explain(err) != err.Error() {
		t.Errorf("explain(%q) = %q, want it unchanged", err, explain(err))
	}
}
