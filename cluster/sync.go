package cluster

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/sessiond/sessiond"
)

// syncFromPeer brings a joining node's store up to date: once the live
// members' log streams reach us (so that nothing written meanwhile is
// missed), it streams one member's whole set and applies it by version
// while those streams keep arriving; the node is ready when it is done.
func (n *Node) syncFromPeer() {
	defer n.wg.Done()
	wait := 200 * time.Millisecond
	for !n.isClosed() {
		p := n.pickDonor()
		if p == nil {
			if n.ml.NumMembers() <= 1 {
				n.ready.Store(true)
				n.log.Info("no peer to sync from: ready")
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		err := n.syncFrom(p)
		if err == nil {
			n.ready.Store(true)
			return
		}
		if n.isClosed() {
			return
		}
		n.log.Warn("join sync failed; retrying", "donor", p.name, "err", err, "in", wait)
		select {
		case <-n.stop:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// pickDonor returns a random peer once every live member streams to us,
// or after a second and a half of waiting for them; nil if no peer is
// known yet.
func (n *Node) pickDonor() *peer {
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		n.mu.Lock()
		var peers []*peer
		streaming := 0
		for _, p := range n.peers {
			peers = append(peers, p)
			if n.inbound[p.name] > 0 {
				streaming++
			}
		}
		n.mu.Unlock()
		if len(peers) > 0 && (streaming == len(peers) || time.Now().After(deadline)) {
			return peers[rand.IntN(len(peers))]
		}
		if len(peers) == 0 && time.Now().After(deadline) {
			return nil
		}
		select {
		case <-n.stop:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// syncFrom streams p's whole set into the store, logging progress.
func (n *Node) syncFrom(p *peer) error {
	ch, err := n.dialData(p, msgSyncRequest, nil)
	if err != nil {
		return err
	}
	defer n.untrack(ch.nc)
	msg, err := ch.readMsg()
	if err != nil {
		return err
	}
	d := decoder{b: msg}
	if d.byte("kind") != msgSyncStart {
		return fmt.Errorf("%w: expected the start of a sync", errMalformed)
	}
	floor := d.version()
	total := d.uint64("record count")
	totalBytes := d.uint64("byte count")
	if d.err != nil {
		return d.err
	}
	if err := n.raiseFloor(floor); err != nil {
		return err
	}
	n.log.Info("join sync started", "donor", p.name, "records", total, "bytes", totalBytes)
	start, lastLog := time.Now(), time.Now()
	var records, bytes uint64
	for {
		ch.nc.SetReadDeadline(time.Now().Add(readTimeout))
		msg, err := ch.readMsg()
		if err != nil {
			return err
		}
		d := decoder{b: msg}
		switch d.byte("kind") {
		case msgSyncChunk:
			k, err := n.applyChunk(&d)
			if err != nil {
				return err
			}
			records += uint64(k)
			bytes += uint64(len(msg))
		case msgSyncDone:
			sent := d.uint64("records sent")
			if d.err != nil {
				return d.err
			}
			if sent != records {
				return fmt.Errorf("%w: sync sent %d records, %d arrived", errMalformed, sent, records)
			}
			el := time.Since(start)
			n.log.Info("join sync done: ready", "donor", p.name, "records", records, "bytes", bytes, "took", el.Round(time.Millisecond), "rate_records_per_s", int(float64(records)/max(el.Seconds(), 1e-3)))
			return nil
		default:
			return fmt.Errorf("%w: unexpected message in a sync", errMalformed)
		}
		if time.Since(lastLog) >= time.Second {
			lastLog = time.Now()
			el := time.Since(start).Seconds()
			rate := float64(records) / el
			eta := "unknown"
			if rate > 0 && total > records {
				eta = (time.Duration(float64(total-records)/rate*1e9) * time.Nanosecond).Round(time.Second).String()
			}
			n.log.Info("join sync progress", "donor", p.name, "records", records, "of", total, "bytes", bytes, "rate_records_per_s", int(rate), "rate_mb_per_s", fmt.Sprintf("%.1f", float64(bytes)/el/1e6), "eta", eta)
		}
	}
}

// applyChunk applies the records of a msgSyncChunk and returns how many
// there were.
func (n *Node) applyChunk(d *decoder) (int, error) {
	var rec sessiond.Record
	count := 0
	for len(d.b) > 0 {
		d.record(&rec, n.maxMsg)
		if d.err != nil {
			return count, d.err
		}
		if err := n.apply(&rec); err != nil {
			return count, err
		}
		count++
	}
	return count, nil
}

// raiseFloor applies a peer's floor (its last Clear) if it is above ours.
func (n *Node) raiseFloor(v sessiond.Version) error {
	if v.Compare(n.st.Floor()) > 0 {
		return n.st.ClearBefore(v)
	}
	return nil
}

// dialData opens a data connection to p for one purpose: its first
// message is kind followed by body.
func (n *Node) dialData(p *peer, kind byte, body []byte) (*channel, error) {
	nc, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if !n.track(nc) {
		nc.Close()
		return nil, errClosed
	}
	ch, them, err := handshake(nc, n.cfg.Key, n.me, true, n.maxMsg)
	if err == nil && them.Node != p.name {
		err = fmt.Errorf("cluster: %s answers as %q, not %q", p.addr, them.Node, p.name)
	}
	if err == nil {
		ch.writeMsg([]byte{kind}, body)
		err = ch.Flush()
	}
	if err != nil {
		n.untrack(nc)
		return nil, err
	}
	return ch, nil
}

// donate streams the whole set to a joining node, a partition at a time,
// so that it needs no copy of the set: what it holds at once is one
// message.
func (n *Node) donate(ch *channel, them hello) error {
	st := n.st.Stats()
	b := []byte{msgSyncStart}
	b = appendVersion(b, n.st.Floor())
	b = binary.BigEndian.AppendUint64(b, uint64(st.Keys+st.Tombstones))
	b = binary.BigEndian.AppendUint64(b, uint64(st.UsedMemory))
	ch.writeMsg(b)
	n.log.Info("streaming the whole set to a joining node", "node", them.Node, "records", st.Keys+st.Tombstones)
	sent, err := n.sendRecords(ch, func(*sessiond.Record) bool { return true })
	if err != nil {
		return err
	}
	b = binary.BigEndian.AppendUint64(append(b[:0], msgSyncDone), sent)
	ch.writeMsg(b)
	return ch.Flush()
}

// sendRecords sends every record keep accepts as msgSyncChunk messages and
// returns how many it sent.
func (n *Node) sendRecords(ch *channel, keep func(*sessiond.Record) bool) (uint64, error) {
	buf := make([]byte, 1, 96<<10)
	buf[0] = msgSyncChunk
	var sent uint64
	for cursor := uint64(0); ; {
		var err error
		cursor, err = n.st.Records(cursor, 128, func(rec *sessiond.Record) {
			if keep(rec) {
				buf = appendRecord(buf, rec)
				sent++
			}
		})
		if err != nil {
			return sent, err
		}
		if len(buf) >= 64<<10 || (cursor == 0 && len(buf) > 1) {
			if err := ch.writeMsg(buf); err != nil {
				return sent, err
			}
			buf = buf[:1]
		}
		if cursor == 0 {
			return sent, nil
		}
		if n.isClosed() {
			return sent, errClosed
		}
	}
}

func appendVersion(b []byte, v sessiond.Version) []byte {
	b = binary.BigEndian.AppendUint64(b, v.Time)
	return binary.AppendUvarint(b, uint64(v.Node))
}
