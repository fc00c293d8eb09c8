package cluster

import (
	"encoding/binary"
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
	ch, them, err := handshake(nc, n.cfg.Key, n.me, false, n.maxMsg)
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
		return n.donate(ch, them)
	case msgDigest:
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
	var b [9]byte
	b[0] = msgResume
	binary.BigEndian.PutUint64(b[1:], last)
	ch.writeMsg(b[:])
	if err := ch.Flush(); err != nil {
		return err
	}
	for {
		msg, err := ch.readMsg()
		if err != nil {
			return err
		}
		n.stats.streamedIn.Add(int64(len(msg)))
		d := decoder{b: msg}
		if d.byte("kind") != msgLog {
			return fmt.Errorf("%w: expected log entries", errMalformed)
		}
		first := d.uint64("first entry")
		count := d.uint32("entry count")
		if d.err != nil {
			return d.err
		}
		if last != 0 && first > last+1 {
			n.log.Warn("entries of a peer's log were skipped; repair will bring them", "node", them.Node, "from", last+1, "to", first-1)
		}
		if err := n.applyEntries(&d, int(count)); err != nil {
			return fmt.Errorf("from %s: %w", them.Node, err)
		}
		last = max(last, first+uint64(count)-1)
		n.mu.Lock()
		n.applied[key] = last
		n.mu.Unlock()
		b[0] = msgAck
		binary.BigEndian.PutUint64(b[1:], last)
		ch.writeMsg(b[:])
		if ch.r.Buffered() == 0 {
			if err := ch.Flush(); err != nil {
				return err
			}
		}
	}
}

// applyEntries applies count log entries from d to the store.
func (n *Node) applyEntries(d *decoder, count int) error {
	var rec sessiond.Record
	for range count {
		switch kind := d.byte("entry kind"); kind {
		case entryRecord:
			d.record(&rec, n.maxMsg)
			if d.err != nil {
				return d.err
			}
			if err := n.apply(&rec); err != nil {
				return err
			}
		case entryClear:
			v := d.version()
			if d.err != nil {
				return d.err
			}
			if err := n.st.ClearBefore(v); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: entry of kind %d", errMalformed, kind)
		}
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the entries", errMalformed, len(d.b))
	}
	return nil
}

// apply applies one record from a peer. A record the store refuses (too
// large for our max value size) is logged and skipped, not fatal to the
// stream.
func (n *Node) apply(rec *sessiond.Record) error {
	ok, err := n.st.Apply(*rec)
	switch {
	case errors.Is(err, sessiond.ErrClosed):
		return err
	case errors.Is(err, sessiond.ErrValueTooLarge), errors.Is(err, sessiond.ErrKeyTooLarge), errors.Is(err, sessiond.ErrOutOfMemory):
		n.log.Error("cannot apply a replicated record", "key", truncate(rec.Key), "err", err)
		return nil
	case err != nil:
		return err
	}
	if ok {
		n.stats.applied.Add(1)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// readTimeout bounds waits for a message on a sync or repair connection.
const readTimeout = 30 * time.Second
