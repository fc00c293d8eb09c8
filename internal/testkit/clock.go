package testkit

import (
	"sync/atomic"
	"time"
)

// fakeEpoch is where a FakeClock starts: 2023-11-14 22:13:20 UTC, years
// behind any wall clock a test runs under, so that code reading the wall
// clock where it should read the fake one is off by years, not by a
// moment, and fails.
var fakeEpoch = time.Unix(1_700_000_000, 0)

// FakeClock is a clock that moves only when a test moves it. Its Now
// method fits sessiond.Options.Now, so that a test drives expiry without
// sleeping. The zero value is ready to use and reads 2023-11-14 22:13:20
// UTC (Unix time 1,700,000,000). A FakeClock is safe for concurrent use;
// it must not be copied after first use.
type FakeClock struct {
	off atomic.Int64 // nanoseconds after fakeEpoch
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time { return fakeEpoch.Add(time.Duration(c.off.Load())) }

// Advance moves the clock by d, back if d is negative.
func (c *FakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) { c.off.Store(int64(t.Sub(fakeEpoch))) }
