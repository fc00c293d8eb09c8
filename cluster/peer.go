package cluster

import (
	"context"
	"errors"
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

// stream runs one connection: dial and handshake, resume point, then the
// log from r, while the acks come back on the same connection.
func (p *peer) stream(r *logReader) error {
	ch, them, err := p.dial()
	if err != nil {
		return err
	}
	defer p.n.untrack(ch.nc)
	if err := p.resume(ch, them, r); err != nil {
		return err
	}
	p.connected.Store(true)
	var marks sentMarks
	errc := make(chan error, 1)
	go p.readAcks(ch, r, &marks, errc)
	return p.send(ch, r, &marks, errc)
}

// dial opens a stream's connection: it dials the peer, authenticates it
// and asks it to apply our log (msgStream). The node tracks the
// connection, and p.close closes it; once dial succeeds, the caller
// untracks it.
func (p *peer) dial() (*channel, hello, error) {
	nc, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		return nil, hello{}, err
	}
	p.mu.Lock()
	p.nc = nc
	p.mu.Unlock()
	if !p.n.track(nc) || p.stopped() {
		nc.Close()
		return nil, hello{}, errClosed
	}
	ch, them, err := p.n.authenticate(nc, p)
	if err == nil {
		ch.writeMsg([]byte{msgStream})
		err = ch.Flush()
	}
	if err != nil {
		if errors.Is(err, errAuth) {
			p.n.log.Warn("peer refused our stream", "node", p.name, "err", err)
		}
		p.n.untrack(nc)
		return nil, hello{}, err
	}
	return ch, them, nil
}

// resume reads where the peer resumes the stream, and moves r, and the
// acks the node counts for the peer, there.
func (p *peer) resume(ch *channel, them hello, r *logReader) error {
	msg, err := ch.readMsg()
	if err != nil {
		return err
	}
	point, err := decodeResume(msg)
	if err != nil {
		return err
	}
	// A peer that applied nothing of this incarnation's log (new, or
	// restarted) gets what the log holds, and counts for no write before
	// it (its join sync or repair brings those); one that resumes gets
	// what it has not applied, or learns on the first read that entries
	// were dropped meanwhile.
	switch {
	case point == 0 && p.streamed && them.Incarnation == p.incarnation:
		// The peer of the last connection, which had applied nothing of
		// the log yet: it resumes where it was, and learns on the first
		// read what the log dropped meanwhile.
		p.n.out.rewind(r, p.n.out.kept(r))
	case point == resumeAtEnd:
		// A restarted node catching up by difference: what came
		// before, its repair round brings.
		p.n.out.toEnd(r)
		p.n.acks.start(p.name, r.seq, r.seq-1)
	case point == 0:
		p.n.out.restart(r)
		p.n.acks.start(p.name, r.seq, r.seq-1)
	default:
		p.n.out.rewind(r, point+1)
		if _, known := p.n.acks.get(p.name); !known {
			p.n.acks.start(p.name, 1, point)
		}
		p.n.acks.set(p.name, point)
	}
	p.streamed, p.incarnation = true, them.Incarnation
	return nil
}

// readAcks reads the peer's acks until the connection fails or a message
// is not an ack, and sends that error on errc: it counts the entries
// acknowledged for the node's waiting writes, lets the log drop them, and
// measures the lag.
func (p *peer) readAcks(ch *channel, r *logReader, marks *sentMarks, errc chan<- error) {
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
		marks.acked(seq, &p.lagMicros)
	}
}

// send writes the log from r to the peer, as it grows, until a write
// fails, the ack reader fails (errc) or the peer is stopped. It flushes
// whenever it has sent all the log holds, and then waits for more.
func (p *peer) send(ch *channel, r *logReader, marks *sentMarks, errc <-chan error) error {
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
		marks.add(first + uint64(count) - 1)
	}
}

// sentMarks keeps when each message of a stream went out, until the peer
// acknowledges it, for the lag: send adds, readAcks takes.
type sentMarks struct {
	mu   sync.Mutex
	list []sentMark
}

type sentMark struct {
	last uint64 // the last entry of the message
	at   time.Time
}

// add notes that the message ending with entry last went out now. It keeps
// 1024 marks at most.
func (m *sentMarks) add(last uint64) {
	m.mu.Lock()
	if len(m.list) < 1024 {
		m.list = append(m.list, sentMark{last: last, at: time.Now()})
	}
	m.mu.Unlock()
}

// acked drops the marks of the messages acknowledged through seq, storing
// the round trip of each in lag.
func (m *sentMarks) acked(seq uint64, lag *atomic.Int64) {
	m.mu.Lock()
	i := 0
	for ; i < len(m.list) && m.list[i].last <= seq; i++ {
		lag.Store(time.Since(m.list[i].at).Microseconds())
	}
	// Shift, keeping the array: appends then do not allocate.
	m.list = m.list[:copy(m.list, m.list[i:])]
	m.mu.Unlock()
}
