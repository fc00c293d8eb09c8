package cluster

import (
	"fmt"
	"sync"
	"time"
)

// acks tracks the highest sequence number of our log each peer has applied,
// and holds the writes that wait for k peers to have applied them.
type acks struct {
	mu      sync.Mutex
	peers   map[string]uint64 // peer name -> applied through
	waiters map[*waiter]struct{}
}

type waiter struct {
	ticket uint64
	k      int
	done   chan struct{}
}

func newAcks() *acks {
	return &acks{peers: map[string]uint64{}, waiters: map[*waiter]struct{}{}}
}

// set records that peer applied the log through seq, and releases the
// waiters that now have enough peers.
func (a *acks) set(peer string, seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur, ok := a.peers[peer]; ok && seq <= cur {
		return
	}
	a.peers[peer] = seq
	for w := range a.waiters {
		if a.count(w.ticket) >= w.k {
			close(w.done)
			delete(a.waiters, w)
		}
	}
}

// remove forgets a peer that left.
func (a *acks) remove(peer string) {
	a.mu.Lock()
	delete(a.peers, peer)
	a.mu.Unlock()
}

// get returns what peer applied, and whether it is known.
func (a *acks) get(peer string) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seq, ok := a.peers[peer]
	return seq, ok
}

// reached returns how many peers applied ticket.
func (a *acks) reached(ticket uint64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count(ticket)
}

// connected returns how many peers are known.
func (a *acks) connected() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.peers)
}

// count returns how many peers applied ticket. Called with mu held.
func (a *acks) count(ticket uint64) int {
	n := 0
	for _, seq := range a.peers {
		if seq >= ticket {
			n++
		}
	}
	return n
}

// waitCount waits as wait does and returns how many peers applied ticket.
func (a *acks) waitCount(ticket uint64, k int, timeout time.Duration) int {
	a.wait(ticket, k, timeout)
	return a.reached(ticket)
}

// wait returns nil once k peers applied ticket, or an error after timeout.
func (a *acks) wait(ticket uint64, k int, timeout time.Duration) error {
	a.mu.Lock()
	if a.count(ticket) >= k {
		a.mu.Unlock()
		return nil
	}
	w := &waiter{ticket: ticket, k: k, done: make(chan struct{})}
	a.waiters[w] = struct{}{}
	a.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
		return nil
	case <-t.C:
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, waiting := a.waiters[w]; !waiting {
		return nil // released as the timer fired
	}
	delete(a.waiters, w)
	return fmt.Errorf("%d of %d replicas applied the write within %v (%d peers connected)", a.count(ticket), k, timeout, len(a.peers))
}
