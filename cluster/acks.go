package cluster

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// acks tracks which entries of our log each peer has applied, and holds the
// writes that wait for k peers to have applied them.
//
// A peer acknowledges the highest entry it applied, but that does not mean
// it applied every entry before it: entries it never got (dropped from the
// log while it was behind its bound, or from before it first connected)
// and entries its store refused are holes, and a write in a hole does not
// count that peer.
type acks struct {
	mu      sync.Mutex
	peers   map[string]*peerAcks
	waiters map[*waiter]struct{}
	closed  bool
}

// peerAcks is what one peer applied: every entry from from to upTo but the
// holes.
type peerAcks struct {
	from, upTo uint64
	holes      [][2]uint64 // [lo, hi) ranges, the newest last
}

// maxHoles bounds the holes kept per peer; the oldest go first (their
// writes waited out their timeout long ago).
const maxHoles = 64

func (p *peerAcks) has(ticket uint64) bool {
	if ticket < p.from || ticket > p.upTo {
		return false
	}
	for _, h := range p.holes {
		if ticket >= h[0] && ticket < h[1] {
			return false
		}
	}
	return true
}

type waiter struct {
	ticket uint64
	k      int
	done   chan struct{}
	// ok is set, under mu, when enough peers applied the write: a peer
	// that leaves after it woke the waiter still counts for it.
	ok bool
	// short is set when too few peers remain to ever reach k.
	short bool
}

func newAcks() *acks {
	return &acks{peers: map[string]*peerAcks{}, waiters: map[*waiter]struct{}{}}
}

// errNodeClosed is a wait's answer when the node stops meanwhile.
var errNodeClosed = errors.New("the node is shutting down")

// start records that peer has applied nothing of the log before entry
// from, and everything up to upTo (from-1: nothing yet).
func (a *acks) start(peer string, from, upTo uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.peers[peer] = &peerAcks{from: from, upTo: upTo}
	a.release()
}

// set records that peer applied the log through seq (but for its holes),
// and releases the waiters that now have enough peers.
func (a *acks) set(peer string, seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.peers[peer]
	if p == nil || seq <= p.upTo {
		return
	}
	p.upTo = seq
	a.release()
}

// hole records that peer did not apply the entries [lo, hi).
func (a *acks) hole(peer string, lo, hi uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.peers[peer]
	if p == nil || lo >= hi {
		return
	}
	if len(p.holes) == maxHoles {
		p.holes = p.holes[1:]
	}
	p.holes = append(p.holes, [2]uint64{lo, hi})
}

// release frees the waiters that have enough peers. Called with mu held.
func (a *acks) release() {
	for w := range a.waiters {
		if a.count(w.ticket) >= w.k {
			w.ok = true
			close(w.done)
			delete(a.waiters, w)
		}
	}
}

// remove forgets a peer that left. The writes waiting for more peers than
// remain fail at once; the others go on waiting for the peers left.
func (a *acks) remove(peer string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.peers, peer)
	for w := range a.waiters {
		if len(a.peers) < w.k {
			w.short = true
			close(w.done)
			delete(a.waiters, w)
		}
	}
}

// close releases every waiter, which then fails, and every later wait.
func (a *acks) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for w := range a.waiters {
		close(w.done)
		delete(a.waiters, w)
	}
}

// get returns the highest entry peer acknowledged, and whether it is known.
func (a *acks) get(peer string) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.peers[peer]
	if p == nil {
		return 0, false
	}
	return p.upTo, true
}

// reached returns how many peers applied ticket.
func (a *acks) reached(ticket uint64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count(ticket)
}

// count returns how many peers applied ticket. Called with mu held.
func (a *acks) count(ticket uint64) int {
	n := 0
	for _, p := range a.peers {
		if p.has(ticket) {
			n++
		}
	}
	return n
}

// waitCount waits as wait does, or until cancel is closed, and returns how
// many peers applied ticket.
func (a *acks) waitCount(ticket uint64, k int, timeout time.Duration, cancel <-chan struct{}) int {
	a.waitOr(ticket, k, timeout, cancel)
	return a.reached(ticket)
}

// wait returns nil once k peers applied ticket, or an error after timeout
// or when the node closes.
func (a *acks) wait(ticket uint64, k int, timeout time.Duration) error {
	return a.waitOr(ticket, k, timeout, nil)
}

// waitOr is wait that also ends, with an error, when cancel is closed.
func (a *acks) waitOr(ticket uint64, k int, timeout time.Duration, cancel <-chan struct{}) error {
	a.mu.Lock()
	if a.count(ticket) >= k {
		a.mu.Unlock()
		return nil
	}
	if a.closed {
		a.mu.Unlock()
		return errNodeClosed
	}
	w := &waiter{ticket: ticket, k: k, done: make(chan struct{})}
	a.waiters[w] = struct{}{}
	a.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	case <-cancel:
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.waiters, w)
	switch got := a.count(ticket); {
	case w.ok || got >= k:
		return nil
	case a.closed:
		return errNodeClosed
	case w.short:
		return fmt.Errorf("%d of %d replicas applied the write, and only %d peers remain connected", got, k, len(a.peers))
	case isClosed(cancel):
		return errWaitCancelled
	default:
		return fmt.Errorf("%d of %d replicas applied the write within %v (%d peers connected)", got, k, timeout, len(a.peers))
	}
}

// errWaitCancelled is waitOr's error when its caller gave up.
var errWaitCancelled = errors.New("cluster: wait cancelled")

// isClosed reports whether ch is closed; a nil channel never is.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
