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
	behind    atomic.Bool  // its stream sends it a backlog: no periodic round with it meanwhile
	paced     atomic.Int64 // messages of a backlog sent at a pace

	// Of the last stream, used by the sender alone: whether there was
	// one, and the peer's incarnation.
	streamed    bool
	incarnation uint64

	// Its place in the log, across its lives (see keepPlaceFor): r is
	// the place its sender left when it stopped (nil while the sender
	// runs, or when the place is not kept), under n.mu; keep says the
	// place outlives the sender (set under n.mu when the member went
	// away); prev is the earlier life whose place this one takes, and
	// done is closed when the sender has stopped and left its place.
	r      *logReader
	keep   bool
	downAt time.Time
	prev   *peer
	done   chan struct{}
	// decide asks the first stream whether the member, back after it was
	// away, needs a repair round (sender only; see resume).
	decide bool
}

// keepPlaceFor is how long a member that went away keeps its place in the
// log (within the log's bound): one that comes back meanwhile, the same
// process (a pause, a partition healed, a stall), resumes its streams
// where they stopped and gets what it missed from the logs, each change
// once, instead of through repair rounds that walk both stores. Redis
// keeps its replication backlog an hour after the last replica left; the
// log's bound (Config.MaxLogBytes) caps what is held either way.
const keepPlaceFor = 10 * time.Minute

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
	prev := n.gone[node.Name]
	delete(n.gone, node.Name)
	if p := n.peers[node.Name]; p != nil {
		if p.addr == addr {
			return
		}
		p.close()
		n.forget(prev) // none: a member is in peers or gone, not both
		p.keep, prev = true, p
	}
	p := &peer{n: n, name: node.Name, addr: addr, stop: make(chan struct{}), done: make(chan struct{}), prev: prev}
	n.peers[node.Name] = p
	n.log.Info("peer up", "node", node.Name, "data", addr)
	n.wg.Add(1)
	go p.run()
	if !n.ready.Load() {
		return
	}
	// A member that (re)appears may have been declared failed while the
	// survivors reconciled without it, and missed the writes made since:
	// a round with it brings them. One whose place in the log was kept
	// may not need it: its first stream tells.
	if prev != nil {
		// A round due with its earlier life is due with this one.
		p.back.Store(prev.back.Load())
		p.lost.Store(prev.lost.Load())
		p.decide = true
		p.behind.Store(true) // until its first stream tells
		return
	}
	p.back.Store(true)
	n.wakeRepair()
}

// memberDown stops the sender to a member that left or failed.
func (n *Node) memberDown(node *memberlist.Node) {
	n.mu.Lock()
	p := n.peers[node.Name]
	if p != nil {
		delete(n.peers, node.Name)
		p.close()
		p.keep, p.downAt = true, time.Now()
		n.forget(n.gone[node.Name])
		n.gone[node.Name] = p
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
		n.forgetGone()
		n.states.prune()
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

// forget drops the place in the log kept for a member that went away,
// unless nil. Called with n.mu held.
func (n *Node) forget(g *peer) {
	if g == nil {
		return
	}
	g.keep = false
	if g.r != nil {
		n.out.close(g.r)
		g.r = nil
	}
}

// forgetGone drops the places kept past keepPlaceFor.
func (n *Node) forgetGone() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, g := range n.gone {
		if time.Since(g.downAt) > keepPlaceFor {
			n.forget(g)
			delete(n.gone, name)
		}
	}
}

// place returns the sender's place in the log: the one its earlier life
// left, if kept, or a new one at the oldest entry held.
func (p *peer) place() *logReader {
	if p.prev != nil {
		<-p.prev.done // stopped before this one started: it ends soon
		p.n.mu.Lock()
		r := p.prev.r
		p.prev.r = nil
		p.n.mu.Unlock()
		if r != nil {
			p.streamed, p.incarnation = p.prev.streamed, p.prev.incarnation
			p.prev = nil
			return r
		}
		p.prev = nil
	}
	return p.n.out.reader()
}

// leave hands the sender's place in the log to its next life, if the
// member went away and the node goes on, or gives it up.
func (p *peer) leave(r *logReader) {
	p.n.mu.Lock()
	if p.keep && !p.n.closed {
		p.r = r
	} else {
		p.n.out.close(r)
	}
	p.n.mu.Unlock()
	close(p.done)
}

// run streams to the peer until it is stopped, reconnecting with backoff.
// Its place in the log lasts across reconnections, and across the
// member's absence (keepPlaceFor).
func (p *peer) run() {
	defer p.n.wg.Done()
	r := p.place()
	defer p.leave(r)
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
	bl := backlog{acked: make(chan struct{}, 1)}
	if bl.end, err = p.resume(ch, them, r); err != nil {
		return err
	}
	p.behind.Store(bl.end > 0)
	defer p.behind.Store(false)
	p.connected.Store(true)
	var marks sentMarks
	errc := make(chan error, 1)
	go p.readAcks(ch, r, &marks, errc, bl.acked)
	return p.send(ch, r, &marks, errc, &bl)
}

// backlog is what a stream sends at a pace: the entries a peer resumed
// behind by more than pacedBacklog (back from a pause, a partition).
// Sent flat out, they would take the peer's core, which the load shares
// with its peers on a small machine, for as long as it applies them: the
// healthy nodes' writes would wait. Each message of the backlog waits for
// the peer's ack of the one before, then for three times that round trip,
// so that applying the backlog takes at most about a quarter of the
// peer's core; the log's newer entries follow at once.
type backlog struct {
	end   uint64        // entries before end are the backlog (0: none)
	acked chan struct{} // readAcks signals each ack
}

// pacedBacklog is the backlog, in entries, past which a stream is paced.
const pacedBacklog = 4096

// wait holds the stream after the message ending with entry last was
// sent at sent, while it is part of the backlog: until the peer acks it,
// then three times the round trip. It returns the error that ended the
// stream meanwhile, or errClosed if the peer was stopped.
func (b *backlog) wait(p *peer, ch *channel, r *logReader, last uint64, errc <-chan error) error {
	if last+1 >= b.end {
		if b.end > 0 {
			b.end = 0
			p.behind.Store(false)
		}
		return nil
	}
	if err := ch.Flush(); err != nil {
		return err
	}
	p.paced.Add(1)
	sent := time.Now()
	if err := awaitAcks(func() bool { return p.n.out.kept(r) > last }, b.acked, errc, p.stop); err != nil {
		return err
	}
	t := time.NewTimer(3 * time.Since(sent))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case err := <-errc:
		return err
	case <-p.stop:
		return errClosed
	}
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
// acks the node counts for the peer, there. It returns the end of the
// backlog to pace (see backlog), 0 if none.
func (p *peer) resume(ch *channel, them hello, r *logReader) (uint64, error) {
	msg, err := ch.readMsg()
	if err != nil {
		return 0, err
	}
	point, err := decodeResume(msg)
	if err != nil {
		return 0, err
	}
	// same says the peer is the process of the last stream, which
	// resumes our log where it stopped.
	same := point != 0 && point != resumeAtEnd || p.streamed && them.Incarnation == p.incarnation && point == 0
	switch {
	case point == 0 && same:
		// The peer of the last connection, which had applied nothing of
		// the log yet: it resumes where it was, and learns on the first
		// read what the log dropped meanwhile. If it went away meanwhile
		// (its acks were forgotten), it counts from there.
		p.n.out.rewind(r, p.n.out.kept(r))
		if _, known := p.n.acks.get(p.name); !known {
			p.n.acks.start(p.name, r.seq, r.seq-1)
		}
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
	var end uint64 // of the backlog to pace, if any
	if last := p.n.out.last(); same && last+1 > r.seq+pacedBacklog {
		end = last + 1
	}
	if p.decide {
		// Back after it was away: the same process gets what it missed
		// from the logs, ours and its other peers', and from the first
		// read what they dropped (lost, which asks for a round); another
		// one (restarted) needs a round now.
		p.decide = false
		if !same {
			p.back.Store(true)
			p.n.wakeRepair()
		}
	}
	p.streamed, p.incarnation = true, them.Incarnation
	return end, nil
}

// readAcks reads the peer's acks until the connection fails or a message
// is not an ack, and sends that error on errc: it counts the entries
// acknowledged for the node's waiting writes, lets the log drop them, and
// measures the lag.
func (p *peer) readAcks(ch *channel, r *logReader, marks *sentMarks, errc chan<- error, acked chan<- struct{}) {
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
		select {
		case acked <- struct{}{}:
		default:
		}
	}
}

// send writes the log from r to the peer, as it grows, until a write
// fails, the ack reader fails (errc) or the peer is stopped. It flushes
// whenever it has sent all the log holds, and then waits for more.
func (p *peer) send(ch *channel, r *logReader, marks *sentMarks, errc <-chan error, bl *backlog) error {
	var hdr [13]byte
	for {
		if err := marks.room(ch.Flush, bl.acked, errc, p.stop); err != nil {
			if err == errClosed {
				return nil
			}
			return err
		}
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
		if err := bl.wait(p, ch, r, first+uint64(count)-1, errc); err != nil {
			if err == errClosed {
				return nil
			}
			return err
		}
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

// maxUnacked bounds the messages a stream has sent that its peer has not
// acknowledged. A peer that keeps up acknowledges each within a round
// trip, and the messages grow (to 64 KiB) while the sender waits, so that
// the bound does not limit a stream's rate; a peer that stops reading (a
// pause, a stall) then holds a few of them in its sockets' buffers instead
// of megabytes, which it would apply at once, flat out, when it goes on:
// the rest stays in the log, and reaches it at a pace (see backlog).
const maxUnacked = 16

// room waits until the stream may send another message (see maxUnacked),
// flushing what it sent first. It returns the error that ended the stream
// meanwhile, or errClosed if stop was closed.
func (m *sentMarks) room(flush func() error, acked <-chan struct{}, errc <-chan error, stop <-chan struct{}) error {
	if m.unacked() < maxUnacked {
		return nil
	}
	if err := flush(); err != nil {
		return err
	}
	return awaitAcks(func() bool { return m.unacked() < maxUnacked }, acked, errc, stop)
}

// awaitAcks waits until done says so, looking again at each ack (readAcks
// signals acked). It returns the error that ended the stream meanwhile, or
// errClosed if stop was closed.
func awaitAcks(done func() bool, acked <-chan struct{}, errc <-chan error, stop <-chan struct{}) error {
	for !done() {
		select {
		case <-acked:
		case err := <-errc:
			return err
		case <-stop:
			return errClosed
		}
	}
	return nil
}

// unacked returns how many messages went out that the peer has not
// acknowledged.
func (m *sentMarks) unacked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.list)
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
