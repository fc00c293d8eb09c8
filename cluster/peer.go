package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// peer is another live member, and the sender streaming our log to it.
type peer struct {
	n    *Node
	name string
	addr string // its data address

	stop chan struct{}
	once sync.Once

	mu sync.Mutex
	nc net.Conn // the current stream, closed to stop a blocked write

	connected atomic.Bool
	sentBytes atomic.Int64
	lagMicros atomic.Int64 // latest ack's round trip
	lost      atomic.Bool  // entries it never got were dropped: repair it
	back      atomic.Bool  // it (re)appeared: repair it, young writes too

	// Of the last stream, used by the sender alone: whether there was
	// one, and the peer's incarnation.
	streamed    bool
	incarnation uint64
}

// memberUp starts a sender to a member that joined or changed address.
func (n *Node) memberUp(node *memberlist.Node) {
	if node.Name == n.cfg.NodeName {
		return
	}
	m, err := decodeMeta(node.Meta)
	if err != nil {
		n.log.Warn("ignoring a member", "node", node.Name, "err", err)
		return
	}
	addr := net.JoinHostPort(node.Addr.String(), strconv.Itoa(int(m.DataPort)))
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if p := n.peers[node.Name]; p != nil {
		if p.addr == addr {
			return
		}
		p.close()
	}
	p := &peer{n: n, name: node.Name, addr: addr, stop: make(chan struct{})}
	n.peers[node.Name] = p
	n.log.Info("peer up", "node", node.Name, "data", addr)
	n.wg.Add(1)
	go p.run()
	if n.ready.Load() {
		// A member that (re)appears may have been declared failed
		// while the survivors reconciled without it, and missed the
		// writes made since: a round with it brings them.
		p.back.Store(true)
		n.wakeRepair()
	}
}

// memberDown stops the sender to a member that left or failed.
func (n *Node) memberDown(node *memberlist.Node) {
	n.mu.Lock()
	p := n.peers[node.Name]
	if p != nil {
		delete(n.peers, node.Name)
		p.close()
	}
	n.mu.Unlock()
	if p != nil {
		n.acks.remove(node.Name)
		n.log.Info("peer down: it left or failed", "node", node.Name)
		n.peerFailed.Store(true)
		n.wakeRepair()
	}
	// memberlist does not say here whether the member left or failed (the
	// state it passes is the one before), so both are tried again: a
	// failed one may be the other side of a partition, and one that left
	// is just not there.
	n.mu.Lock()
	n.failed[node.Name] = failedPeer{addr: node.Address(), since: time.Now()}
	n.mu.Unlock()
}

// failedPeer is a member that went away: the node tries to reach it again,
// so that the two sides of a healed partition find each other (memberlist
// does not probe members it declared dead).
type failedPeer struct {
	addr  string
	since time.Time
}

// reconnectFor is how long the node keeps trying to reach a peer that
// went away.
const reconnectFor = 24 * time.Hour

// reconnectLoop tries to rejoin failed peers, and the --join addresses
// when the node finds itself alone, every few seconds.
func (n *Node) reconnectLoop() {
	defer n.wg.Done()
	t := time.NewTicker(reconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		var addrs []string
		n.mu.Lock()
		for name, f := range n.failed {
			if _, back := n.peers[name]; back || time.Since(f.since) > reconnectFor {
				delete(n.failed, name)
				continue
			}
			addrs = append(addrs, f.addr)
		}
		n.mu.Unlock()
		if n.ml.NumMembers() <= 1 && len(n.cfg.Join) > 0 {
			addrs = append(addrs, n.resolve(context.Background())...)
		}
		if len(addrs) == 0 {
			continue
		}
		// A --join list may hold this node's own address: it answers,
		// but only new members are news.
		before := n.ml.NumMembers()
		if joined, err := n.ml.Join(addrs); n.ml.NumMembers() > before {
			n.log.Info("reached failed peers again", "addresses", addrs, "answered", joined, "members", n.ml.NumMembers())
		} else if err != nil {
			n.log.Debug("failed peers still unreachable", "addresses", addrs, "err", err)
		}
	}
}

// reconnectInterval is how often reconnectLoop tries.
const reconnectInterval = 2 * time.Second

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "failed"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
}

func (p *peer) close() {
	p.once.Do(func() {
		close(p.stop)
		p.mu.Lock()
		if p.nc != nil {
			p.nc.Close()
		}
		p.mu.Unlock()
	})
}

func (p *peer) stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// run streams to the peer until it is stopped, reconnecting with backoff.
// Its place in the log lasts across reconnections.
func (p *peer) run() {
	defer p.n.wg.Done()
	r := p.n.out.reader()
	defer p.n.out.close(r)
	wait := 50 * time.Millisecond
	for !p.stopped() {
		start := time.Now()
		err := p.stream(r)
		p.connected.Store(false)
		if p.stopped() {
			return
		}
		if time.Since(start) > 5*time.Second {
			wait = 50 * time.Millisecond
		}
		p.n.log.Debug("stream to peer ended; reconnecting", "node", p.name, "in", wait, "err", err)
		select {
		case <-p.stop:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// stream runs one connection: handshake, resume point, then the log from
// r.
func (p *peer) stream(r *logReader) error {
	nc, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.nc = nc
	p.mu.Unlock()
	if !p.n.track(nc) || p.stopped() {
		nc.Close()
		return errClosed
	}
	defer p.n.untrack(nc)
	ch, them, err := handshake(nc, p.n.cfg.Key, p.n.me, true, p.n.maxMsg)
	if err != nil {
		if errors.Is(err, errAuth) {
			p.n.log.Warn("peer refused our stream", "node", p.name, "err", err)
		}
		return err
	}
	if them.Node != p.name {
		return fmt.Errorf("cluster: %s answers as %q, not %q", p.addr, them.Node, p.name)
	}
	ch.writeMsg([]byte{msgStream})
	if err := ch.Flush(); err != nil {
		return err
	}
	msg, err := ch.readMsg()
	if err != nil {
		return err
	}
	resume, err := decodeResume(msg)
	if err != nil {
		return err
	}
	// A peer that applied nothing of this incarnation's log (new, or
	// restarted) gets what the log holds, and counts for no write before
	// it (its join sync or repair brings those); one that resumes gets
	// what it has not applied, or learns on the first read that entries
	// were dropped meanwhile.
	switch {
	case resume == 0 && p.streamed && them.Incarnation == p.incarnation:
		// The peer of the last connection, which had applied nothing of
		// the log yet: it resumes where it was, and learns on the first
		// read what the log dropped meanwhile.
		p.n.out.rewind(r, p.n.out.kept(r))
	case resume == resumeAtEnd:
		// A restarted node catching up by difference: what came
		// before, its repair round brings.
		p.n.out.toEnd(r)
		p.n.acks.start(p.name, r.seq, r.seq-1)
	case resume == 0:
		p.n.out.restart(r)
		p.n.acks.start(p.name, r.seq, r.seq-1)
	default:
		p.n.out.rewind(r, resume+1)
		if _, known := p.n.acks.get(p.name); !known {
			p.n.acks.start(p.name, 1, resume)
		}
		p.n.acks.set(p.name, resume)
	}
	p.streamed, p.incarnation = true, them.Incarnation
	p.connected.Store(true)

	// Acks come back on the same connection. sent keeps when each
	// message went out, for the lag.
	var sentMu sync.Mutex
	var sent []sentMark
	errc := make(chan error, 1)
	go func() {
		for {
			msg, err := ch.readMsg()
			if err != nil {
				errc <- err
				return
			}
			seq, refused, err := decodeAck(msg)
			if err != nil {
				errc <- err
				return
			}
			for _, s := range refused {
				p.n.acks.hole(p.name, s, s+1)
			}
			p.n.acks.set(p.name, seq)
			p.n.out.acked(r, seq)
			sentMu.Lock()
			i := 0
			for ; i < len(sent) && sent[i].last <= seq; i++ {
				p.lagMicros.Store(time.Since(sent[i].at).Microseconds())
			}
			// Shift, keeping the array: appends then do not allocate.
			sent = sent[:copy(sent, sent[i:])]
			sentMu.Unlock()
		}
	}()

	var hdr [13]byte
	for {
		b, first, count, lost := p.n.out.read(r)
		if lost[1] > lost[0] {
			p.n.acks.hole(p.name, lost[0], lost[1])
			p.lost.Store(true)
			p.n.wakeRepair()
			p.n.log.Warn("peer fell behind the log bound; repair will bring it up to date", "node", p.name, "entries_lost", lost[1]-lost[0])
		}
		if count == 0 {
			if err := ch.Flush(); err != nil {
				return err
			}
			select {
			case <-r.wake:
				// Let the writer that woke us, and the others
				// running, log more before we read: one message
				// and one system call then carry many changes.
				runtime.Gosched()
			case err := <-errc:
				return err
			case <-p.stop:
				return nil
			}
			continue
		}
		err := ch.writeMsg(appendLogHeader(hdr[:0], first, count), b)
		p.n.out.sent(r)
		if err != nil {
			return err
		}
		p.sentBytes.Add(int64(len(b)))
		sentMu.Lock()
		if len(sent) < 1024 {
			sent = append(sent, sentMark{last: first + uint64(count) - 1, at: time.Now()})
		}
		sentMu.Unlock()
	}
}

type sentMark struct {
	last uint64
	at   time.Time
}
