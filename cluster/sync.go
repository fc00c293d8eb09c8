package cluster

import (
	"errors"
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
//
// A store that already holds sessions (loaded from its data directory
// after a restart) catches up by difference instead: a repair round with
// one member compares versions bucket by bucket and brings only what this
// node lacks or holds older, and sends what the member lacks.
func (n *Node) syncFromPeer() {
	defer n.wg.Done()
	defer n.catchingUp.Store(false)
	byDiff := n.catchingUp.Load()
	wait := 200 * time.Millisecond
	unready := map[string]bool{} // peers that said they are syncing too
	for !n.isClosed() {
		p := n.pickDonor(unready)
		if p == nil {
			if n.ml.NumMembers() <= 1 {
				n.ready.Store(true)
				n.log.Info("no peer to sync from: ready")
				return
			}
			if n.firstOfUnready(unready) {
				// Every peer is joining too (a cluster started all at
				// once): the first by name starts it, the others sync
				// from it.
				n.ready.Store(true)
				n.log.Info("every peer is syncing too; first by name: ready")
				return
			}
			clear(unready) // ask again: one of them may be ready by now
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var err error
		if byDiff {
			err = n.catchUpFrom(p)
		} else {
			err = n.syncFrom(p)
		}
		if err == nil {
			n.ready.Store(true)
			return
		}
		if errors.Is(err, errNotReady) {
			unready[p.name] = true
			continue
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

// holdsData reports whether the store holds anything: sessions,
// tombstones or a clear.
func (n *Node) holdsData() bool {
	s := n.st.Stats()
	return s.Keys+s.Tombstones > 0 || !n.st.Replica().Floor().IsZero()
}

// catchUpFrom brings the store up to date with p by difference: one repair
// round that sends every record that differs, however young.
func (n *Node) catchUpFrom(p *peer) error {
	s := n.st.Stats()
	n.log.Info("catching up by difference: the store holds sessions already", "donor", p.name, "records", s.Keys+s.Tombstones)
	start := time.Now()
	buckets, records, err := n.repairAs(p, msgCatchUp, window{}, pace{})
	if err != nil {
		return err
	}
	n.catchingUp.Store(false)
	n.log.Info("caught up by difference: ready", "donor", p.name, "buckets_differing", buckets,
		"records_exchanged", records, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// errNotReady is a donor's answer when it is still syncing itself.
var errNotReady = errors.New("cluster: the peer is still syncing")

// firstOfUnready reports whether every peer said it is syncing too and
// this node's name comes first.
func (n *Node) firstOfUnready(unready map[string]bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.peers) == 0 {
		return false
	}
	for name := range n.peers {
		if !unready[name] || name < n.cfg.NodeName {
			return false
		}
	}
	return true
}

// pickDonor returns a random peer, of those not known to be syncing too,
// once every live member streams to us, or after a second and a half of
// waiting for them; nil if there is none.
func (n *Node) pickDonor(unready map[string]bool) *peer {
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		n.mu.Lock()
		var peers []*peer
		streaming := 0
		all := len(n.peers)
		for _, p := range n.peers {
			if n.inbound[p.name] > 0 {
				streaming++
			}
			if !unready[p.name] {
				peers = append(peers, p)
			}
		}
		n.mu.Unlock()
		if len(peers) > 0 && (streaming == all || time.Now().After(deadline)) {
			return peers[rand.IntN(len(peers))]
		}
		if len(peers) == 0 && (all > 0 || time.Now().After(deadline)) {
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
	ch, err := n.dialData(p, []byte{msgSyncRequest})
	if err != nil {
		return err
	}
	defer n.untrack(ch.nc)
	msg, err := ch.readMsg()
	if err != nil {
		return err
	}
	if notReady(msg) {
		return errNotReady
	}
	floor, total, totalBytes, err := decodeSyncStart(msg)
	if err != nil {
		return err
	}
	if err := n.raiseFloor(floor); err != nil {
		return err
	}
	n.log.Info("join sync started", "donor", p.name, "records", total, "bytes", totalBytes)
	start, lastLog := time.Now(), time.Now()
	records, bytes, err := n.receiveRecords(ch, func(records, bytes uint64) {
		if time.Since(lastLog) < time.Second {
			return
		}
		lastLog = time.Now()
		el := time.Since(start).Seconds()
		rate := float64(records) / el
		eta := "unknown"
		if rate > 0 && total > records {
			eta = (time.Duration(float64(total-records)/rate*1e9) * time.Nanosecond).Round(time.Second).String()
		}
		n.log.Info("join sync progress", "donor", p.name, "records", records, "of", total, "bytes", bytes, "rate_records_per_s", int(rate), "rate_mb_per_s", fmt.Sprintf("%.1f", float64(bytes)/el/1e6), "eta", eta)
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	n.log.Info("join sync done: ready", "donor", p.name, "records", records, "bytes", bytes, "took", el.Round(time.Millisecond), "rate_records_per_s", int(float64(records)/max(el.Seconds(), 1e-3)))
	return nil
}

// receiveRecords applies the msgSyncChunk messages of a sync or one side
// of a repair until its msgSyncDone, checks that as many records arrived as
// were sent, and returns the records and bytes received. progress, if not
// nil, is called after each chunk with the totals so far.
func (n *Node) receiveRecords(ch *channel, progress func(records, bytes uint64)) (records, bytes uint64, err error) {
	a := applier{n: n}
	sent, err := readList(ch, msgSyncChunk, "records of a sync or repair", func(d *decoder, msg []byte) error {
		k, err := n.applyChunk(&a, d)
		records += uint64(k)
		bytes += uint64(len(msg))
		if err == nil && progress != nil {
			progress(records, bytes)
		}
		return err
	})
	if err == nil && sent != records {
		err = fmt.Errorf("%w: %d records sent, %d arrived", errMalformed, sent, records)
	}
	return records, bytes, err
}

// applyChunk applies the records of a msgSyncChunk and returns how many
// there were.
func (n *Node) applyChunk(a *applier, d *decoder) (int, error) {
	var rec sessiond.Record
	count := 0
	for len(d.b) > 0 {
		d.record(&rec, n.maxMsg)
		if d.err != nil {
			return count, d.err
		}
		a.add(&rec, 0)
		count++
	}
	return count, a.flush()
}

// raiseFloor applies a peer's floor (its last Clear) if it is above ours.
func (n *Node) raiseFloor(v sessiond.Version) error {
	if v.Compare(n.st.Replica().Floor()) > 0 {
		return n.st.Replica().ClearBefore(v)
	}
	return nil
}

// dialData opens a data connection to p for one purpose, which its first
// message says.
func (n *Node) dialData(p *peer, first []byte) (*channel, error) {
	nc, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if !n.track(nc) {
		nc.Close()
		return nil, errClosed
	}
	ch, _, err := n.authenticate(nc, p)
	if err == nil {
		ch.timeout = ioTimeout
		ch.writeMsg(first)
		err = ch.Flush()
	}
	if err != nil {
		n.untrack(nc)
		return nil, err
	}
	return ch, nil
}

// authenticate runs the dialer's side of the handshake on nc and checks
// that the node answering is p.
func (n *Node) authenticate(nc net.Conn, p *peer) (*channel, hello, error) {
	ch, them, err := handshake(nc, n.cfg.Keys, n.me, true, n.maxMsg)
	if err == nil && them.Node != p.name {
		err = fmt.Errorf("cluster: %s answers as %q, not %q", p.addr, them.Node, p.name)
	}
	return ch, them, err
}

// donate streams the whole set to a joining node, a partition at a time,
// so that it needs no copy of the set: what it holds at once is one
// message.
func (n *Node) donate(ch *channel, them hello) error {
	if !n.Ready() {
		// A partial set would make the joiner ready without the rest.
		ch.writeMsg([]byte{msgNotReady})
		return ch.Flush()
	}
	st := n.st.Stats()
	ch.writeMsg(appendSyncStart(nil, n.st.Replica().Floor(), uint64(st.Keys+st.Tombstones), uint64(st.UsedMemory)))
	n.log.Info("streaming the whole set to a joining node", "node", them.Node, "records", st.Keys+st.Tombstones)
	_, err := n.sendRecords(ch, func(*sessiond.Record) bool { return true }, pace{})
	return err
}

// sendRecords sends every record keep accepts as msgSyncChunk messages of
// about 64 KiB (a message ends after the record that takes it past that),
// then msgSyncDone with their count, flushes, and returns the count. It visits the store in steps of about
// 256 KiB, so that large sessions neither make a message past the
// receiver's bound nor a step hold much memory.
func (n *Node) sendRecords(ch *channel, keep func(*sessiond.Record) bool, pc pace) (uint64, error) {
	const (
		msgSize  = 64 << 10
		stepSize = 256 << 10
	)
	buf := make([]byte, 0, stepSize+msgSize)
	var cuts []int // where each record ends in buf
	var sent, seen, bytes uint64
	limit := 128
	for cursor := uint64(0); ; {
		var err error
		buf, cuts = buf[:0], cuts[:0]
		start := pc.step()
		cursor, err = n.st.Replica().Records(cursor, limit, func(rec *sessiond.Record) {
			seen++
			bytes += uint64(len(rec.Key) + len(rec.Value))
			if keep(rec) {
				buf = appendRecord(buf, rec)
				cuts = append(cuts, len(buf))
				sent++
			}
		})
		if err != nil {
			return sent, err
		}
		// Cut what this step found into messages.
		from := 0
		for i, end := range cuts {
			if end-from >= msgSize || i == len(cuts)-1 {
				if err := ch.writeMsg([]byte{msgSyncChunk}, buf[from:end]); err != nil {
					return sent, err
				}
				from = end
			}
		}
		if cursor == 0 {
			ch.writeMsg(appendDone(nil, sent))
			return sent, ch.Flush()
		}
		pc.done(start)
		if n.isClosed() {
			return sent, errClosed
		}
		// The next step visits about stepSize bytes of records.
		limit = int(max(1, min(1024, stepSize*seen/max(bytes, 1))))
	}
}
