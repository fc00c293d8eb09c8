package cluster

import (
	"sync/atomic"
	"time"
)

// repairShare is how many cores' worth of time a paced repair round's work
// is spread over: it takes a quarter of one core, so that on a small
// machine the writes the node serves meanwhile keep the rest. A round
// walks the whole store two or three times (digests, versions, records);
// unpaced, catching up a node that missed 30,000 writes took a healthy
// node 0.7s of CPU within half a second, and its write p99 rose 9 to 16
// times (go run ./bench/cluster -phases catchup). The rounds paced also run
// at a lower priority (inBackground).
const repairShare = 4

// pace spreads a round's walks of the store: after each step it waits
// (repairShare-1) times as long as the step took. The rounds that must be
// quick are not paced: the survivors' reconcile after a peer failed (every
// write acknowledged on one survivor on all within a second), a restarted
// node's catch-up, the join sync and the side that answers a catch-up.
type pace struct {
	on    bool
	stop  <-chan struct{}
	hurry *atomic.Bool // a peer failed: the survivors' reconcile waits for this round
}

// step returns the time a step starts, to pass to done.
func (p pace) step() time.Time {
	if !p.on {
		return time.Time{}
	}
	return time.Now()
}

// done waits after a step that began at start.
func (p pace) done(start time.Time) {
	if !p.on || p.hurry.Load() {
		return
	}
	select {
	case <-time.After(time.Since(start) * (repairShare - 1)):
	case <-p.stop:
	}
}
