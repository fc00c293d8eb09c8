package target

import (
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis, as a process may
	// choose; utime 1234 and stime 66 ticks.
	stat := "4242 (redis (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 1234 66 0 0 20 0 5 0 100 1000 200 18446744073709551615\n"
	got, err := parseStatCPU([]byte(stat), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if want := 13 * time.Second; got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2"), time.Millisecond); err == nil {
		t.Fatal("short stat line parsed")
	}
}
