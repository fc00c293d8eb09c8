package testkit

import (
	"sync"
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	var c FakeClock
	start := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("the zero FakeClock reads %v, want %v", got, start)
	}
	if wall := time.Now(); wall.Sub(c.Now()) < 365*24*time.Hour {
		t.Errorf("the fake clock (%v) is within a year of the wall clock (%v)", c.Now(), wall)
	}
	c.Advance(1500 * time.Millisecond)
	if got, want := c.Now(), start.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Errorf("after Advance(1.5s): %v, want %v", got, want)
	}
	c.Advance(-time.Hour)
	if got, want := c.Now(), start.Add(1500*time.Millisecond-time.Hour); !got.Equal(want) {
		t.Errorf("after Advance(-1h): %v, want %v", got, want)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	c.Set(at)
	if got := c.Now(); !got.Equal(at) {
		t.Errorf("after Set(%v): %v", at, got)
	}
}

// TestFakeClockConcurrent: readers and movers at once lose no move (and
// the race detector sees no race).
func TestFakeClockConcurrent(t *testing.T) {
	var c FakeClock
	start := c.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(start); got != 4*time.Second {
		t.Errorf("4×1000 moves of 1ms moved the clock %v, want 4s", got)
	}
}
