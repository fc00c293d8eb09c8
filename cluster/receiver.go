package cluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/sessiond/sessiond"
)

// acceptLoop serves the data connections peers open.
func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		nc, err := n.data.Accept()
		if err != nil {
			select {
			case <-n.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			n.log.Error("data listener failed", "err", err)
			return
		}
		if !n.track(nc) {
			nc.Close()
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer n.untrack(nc)
			if err := n.serveConn(nc); err != nil && !errors.Is(err, io.EOF) && !n.isClosed() {
				n.log.Warn("data connection ended", "remote", nc.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

func (n *Node) isClosed() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// serveConn authenticates a connection and serves what its first message
// asks for.
func (n *Node) serveConn(nc net.Conn) error {
	// Connections that have not authenticated yet are few at a time:
	// a flood of them is dropped, not buffered.
	select {
	case n.handshakes <- struct{}{}:
	default:
		return fmt.Errorf("cluster: %d data connections are already authenticating; dropped", cap(n.handshakes))
	}
	ch, them, err := handshake(nc, n.cfg.Keys, n.me, false, n.maxMsg)
	<-n.handshakes
	if err != nil {
		if errors.Is(err, errAuth) {
			n.log.Warn("refused a data connection", "remote", nc.RemoteAddr().String(), "err", err)
		}
		return err
	}
	msg, err := ch.readMsg()
	if err != nil {
		return err
	}
	if len(msg) == 0 {
		return fmt.Errorf("%w: empty message", errMalformed)
	}
	switch msg[0] {
	case msgStream:
		return n.receive(ch, them)
	case msgSyncRequest:
		ch.timeout = ioTimeout
		return n.donate(ch, them)
	case msgDigest, msgCatchUp:
		ch.timeout = ioTimeout
		return n.answerRepair(ch, them, msg)
	}
	return fmt.Errorf("%w: first message of kind %d", errMalformed, msg[0])
}

// receive applies a peer's log stream and acknowledges it.
func (n *Node) receive(ch *channel, them hello) error {
	key := them.Node + "/" + strconv.FormatUint(them.Incarnation, 16)
	n.mu.Lock()
	last := n.applied[key]
	n.inbound[them.Node]++
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		if n.inbound[them.Node]--; n.inbound[them.Node] <= 0 {
			delete(n.inbound, them.Node)
		}
		n.mu.Unlock()
	}()
	resume := last
	if last == 0 && n.catchingUp.Load() {
		resume = resumeAtEnd
	}
	ch.writeMsg(appendResume(nil, resume))
	var ack []byte
	a := applier{n: n}
	if err := ch.Flush(); err != nil {
		return err
	}
	for {
		msg, err := ch.readMsg()
		if err != nil {
			return err
		}
		n.stats.streamedIn.Add(int64(len(msg)))
		first, count, entries, err := decodeLog(msg)
		if err != nil {
			return err
		}
		if last != 0 && first > last+1 {
			n.log.Warn("entries of a peer's log were skipped; repair will bring them", "node", them.Node, "from", last+1, "to", first-1)
		}
		refused, err := n.applyEntries(&a, entries, first, int(count))
		if err != nil {
			return fmt.Errorf("from %s: %w", them.Node, err)
		}
		last = max(last, first+uint64(count)-1)
		n.mu.Lock()
		n.applied[key] = last
		n.mu.Unlock()
		ack = appendAck(ack[:0], last, refused)
		ch.writeMsg(ack)
		if ch.r.Buffered() == 0 {
			if err := ch.Flush(); err != nil {
				return err
			}
		}
	}
}

// applyEntries applies count log entries, the first numbered first, to
// the store, and returns the numbers of the records the store refused.
func (n *Node) applyEntries(a *applier, entries []byte, first uint64, count int) (refused []uint64, err error) {
	a.refused = a.refused[:0]
	d := decoder{b: entries}
	var rec sessiond.Record
	for i := range count {
		kind, clear := d.entry(&rec, n.maxMsg)
		if d.err != nil {
			return a.refused, d.err
		}
		if kind == entryRecord {
			a.add(&rec, first+uint64(i))
			continue
		}
		// A Clear, in order: the records before it first.
		if err := a.flush(); err != nil {
			return a.refused, err
		}
		if err := n.st.Replica().ClearBefore(clear); err != nil {
			return a.refused, err
		}
	}
	if len(d.b) != 0 {
		return a.refused, fmt.Errorf("%w: %d bytes after the entries", errMalformed, len(d.b))
	}
	return a.refused, a.flush()
}

// ioTimeout bounds each read and write of a message on a sync or repair
// connection.
const ioTimeout = 30 * time.Second
