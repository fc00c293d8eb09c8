// Package hlc is a hybrid logical clock: it issues 64-bit timestamps that
// stay close to wall-clock time yet never repeat or go backwards, even when
// the local clock steps back or a peer's clock runs ahead.
//
// # Basics
//
// A timestamp packs unix milliseconds into its upper 48 bits and a logical
// counter into its lower 16, so timestamps compare correctly as plain
// integers. Make, Physical and Logical build and take them apart.
//
// Clock.Now stamps a local event; Clock.Update records a stamp that came
// from another node, so that whatever this node does next is ordered after
// it. Both are lock-free and allocation-free.
//
// # Caveats
//
// A stamp received through Update is trusted as it is: one from a peer
// whose clock is an hour fast drags this clock an hour ahead, and it stays
// ahead until the wall clock catches up. Callers that accept stamps from
// the network should reject those too far in the future before calling
// Update.
//
// 48 bits of milliseconds last until the year 10889. A clock pushed to the
// very last stamp (only possible through Update) keeps returning it.
package hlc

import (
	"math"
	"sync/atomic"
	"time"
)

const (
	logicalBits = 16
	logicalMask = 1<<logicalBits - 1

	// maxPhysical is the largest wall time, in unix ms, a stamp can hold.
	maxPhysical = 1<<(64-logicalBits) - 1
)

// Make returns the timestamp for wall time ms (unix milliseconds) and
// logical counter logical. ms must be in [0, 2^48); higher bits are lost.
func Make(ms int64, logical uint16) uint64 {
	return uint64(ms)<<logicalBits | uint64(logical)
}

// Physical returns the wall-time part of ts, in unix milliseconds.
func Physical(ts uint64) int64 {
	return int64(ts >> logicalBits)
}

// Logical returns the logical-counter part of ts.
func Logical(ts uint64) uint16 {
	return uint16(ts & logicalMask)
}

// Clock issues hybrid logical timestamps. The zero value is ready to use
// and reads the system clock. A Clock is safe for concurrent use and must
// not be copied after first use.
type Clock struct {
	now  func() int64
	last atomic.Uint64 // the largest stamp issued by Now or seen by Update
}

// New returns a Clock that reads wall time from now, which returns unix
// milliseconds. If now is nil, the clock uses time.Now().UnixMilli().
// Tests pass a fake now to step time by hand.
func New(now func() int64) *Clock {
	return &Clock{now: now}
}

// wallMS returns the current wall time in unix milliseconds.
func (c *Clock) wallMS() int64 {
	if c.now != nil {
		return c.now()
	}
	return time.Now().UnixMilli()
}

// stamp returns wall time ms as a stamp with a zero counter.
func stamp(ms int64) uint64 {
	// Clamp rather than wrap: a wrapped value would be far in the future
	// (negative ms) or far in the past (overflow) and poison the clock.
	ms = min(max(ms, 0), maxPhysical)
	return Make(ms, 0)
}

// Now returns a timestamp greater than every stamp Now has returned and
// every stamp passed to Update, and no less than the wall clock. It never
// returns 0, so callers may use 0 to mean "no stamp".
//
// When the wall clock has not moved past the last stamp (several calls in
// one millisecond, the clock stepping back, or a peer ahead of us) the
// result is the last stamp plus one: the logical counter counts up, and
// when it passes 0xFFFF it carries into the millisecond field, which keeps
// stamps unique and ordered at the cost of running slightly ahead.
func (c *Clock) Now() uint64 {
	return c.NowAt(c.wallMS())
}

// NowAt is Now for a caller that has just read the wall clock itself, as
// unix milliseconds: reading the clock is most of Now's cost, and a caller
// that needs the time anyway should not pay for it twice.
func (c *Clock) NowAt(ms int64) uint64 {
	wall := stamp(ms)
	for {
		last := c.last.Load()
		next := wall
		if next <= last {
			if last == math.MaxUint64 {
				return last // saturated; see the package caveats
			}
			// Adding one to the packed value is the HLC "same physical
			// time, counter+1" rule, with the carry for free.
			next = last + 1
		}
		if c.last.CompareAndSwap(last, next) {
			return next
		}
	}
}

// Update records remote, a stamp received from another node, so that the
// next stamp Now returns is greater than it. Stamps older than the clock's
// own last stamp change nothing.
func (c *Clock) Update(remote uint64) {
	for {
		last := c.last.Load()
		if remote <= last || c.last.CompareAndSwap(last, remote) {
			return
		}
	}
}

// Last returns the largest stamp the clock has issued or seen through
// Update, or 0 if none.
func (c *Clock) Last() uint64 {
	return c.last.Load()
}
