package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/hlc"
)

// Repair compares the sets of two nodes by digests of key-range buckets:
// the XOR of a hash of (key, version, deleted) over the bucket's records.
// For the buckets that differ, the two sides then compare the versions they
// hold key by key and send each other only the records the other lacks or
// holds older; both apply by version, so both end with the higher version
// of every key in those buckets.
//
// A round, dialer first:
//
//	dialer:   msgDigest{floor, digests}
//	acceptor: msgDigest{floor, digests}
//	dialer:   msgVersions... msgSyncDone   (key hash and version of its records in differing buckets, by hash)
//	acceptor: msgSyncChunk... msgSyncDone  (its records the dialer lacks or holds older)
//	acceptor: msgWant... msgSyncDone       (the key hashes the dialer holds newer, or alone)
//	dialer:   msgSyncChunk... msgSyncDone  (those records)
//
// Under a steady write load nearly every bucket differs for a moment, by
// the few writes still in flight on the streams. Comparing versions (about
// 20 bytes a record) finds those few, so a round sends the records that
// differ rather than whole buckets; writes stamped within settleTime of
// the wall clock are left to the streams. The lists are held in memory
// while a round runs: 24 bytes per record of the differing buckets, and 8
// per record to send or ask for.
//
// Keys are compared by a 64-bit hash: two keys of one store with the same
// hash are compared as one, and a difference between them can go
// unrepaired (with ten million random keys, a chance of about one in
// 370,000 that any two collide; FNV-1a is not keyed, so chosen keys can).

// repairBits sets the number of buckets: 1,024, so that a digest is 8 KiB
// and a difference costs about a thousandth of the set.
const repairBits = 10

// bucketOf returns the repair bucket of key and its hash.
func bucketOf(key string) (int, uint64) {
	k := uint64(14695981039346656037) // FNV-1a, 64 bits
	for i := 0; i < len(key); i++ {
		k ^= uint64(key[i])
		k *= 1099511628211
	}
	return int(k >> (64 - repairBits)), k
}

// recordHash mixes a record's key hash, version and tombstone bit.
func recordHash(keyHash uint64, rec *sessiond.Record) uint64 {
	z := keyHash ^ rec.Version.Time*0x9e3779b97f4a7c15 ^ uint64(rec.Version.Node)<<1
	if rec.Deleted {
		z ^= 1
	}
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// digests computes the store's floor and bucket digests.
func (n *Node) digests(pc pace) (sessiond.Version, []uint64, error) {
	floor := n.st.Replica().Floor()
	d := make([]uint64, 1<<repairBits)
	for cursor := uint64(0); ; {
		var err error
		start := pc.step()
		cursor, err = n.st.Replica().Records(cursor, 1024, func(rec *sessiond.Record) {
			b, h := bucketOf(rec.Key)
			d[b] ^= recordHash(h, rec)
		})
		pc.done(start)
		if err != nil {
			return floor, nil, err
		}
		if cursor == 0 {
			return floor, d, nil
		}
	}
}

// differing returns the set of buckets whose digests differ, and how many
// there are.
func differing(a, b []uint64) ([]bool, int) {
	diff := make([]bool, len(a))
	k := 0
	for i := range a {
		if a[i] != b[i] {
			diff[i] = true
			k++
		}
	}
	return diff, k
}

// repairLoop runs a repair round with a random peer every RepairInterval,
// and at once with a peer that fell behind the log. While rounds find
// differences that are all writes in flight (a steady write load), the
// interval doubles, up to 8 times RepairInterval: such a round visits
// every record two or three times and finds nothing to send.
func (n *Node) repairLoop() {
	defer n.wg.Done()
	idle := 0 // rounds in a row that found only writes in flight
	t := time.NewTimer(n.cfg.RepairInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.repairNow:
		}
		buckets, records, ok := n.repairRound()
		if ok && buckets > 0 && records == 0 {
			idle = min(idle+1, maxRepairBackoff)
		} else {
			idle = 0
		}
		t.Reset(n.cfg.RepairInterval << idle)
	}
}

// maxRepairBackoff bounds the doublings of the repair interval.
const maxRepairBackoff = 3

// repairRound runs one round with a random peer, or with a peer that fell
// behind the log, and returns how many buckets differed, how many records
// it exchanged, and whether it ran to the end.
func (n *Node) repairRound() (buckets int, records uint64, ok bool) {
	if !n.Ready() {
		return 0, 0, true // the join sync brings everything
	}
	if n.peerFailed.Swap(false) {
		n.reconcileSurvivors()
	}
	n.mu.Lock()
	var peers []*peer
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	n.mu.Unlock()
	if len(peers) == 0 {
		return 0, 0, true
	}
	p := peers[rand.IntN(len(peers))]
	fresh, kind := n.inFlight(), byte(msgDigest)
	var due *atomic.Bool // the flag that chose p, set again if the round does not run
	for _, q := range peers {
		if q.back.Swap(false) {
			// It came back after it was declared failed: it missed
			// everything since, however young.
			p, fresh, kind, due = q, window{}, msgCatchUp, &q.back
			break
		}
		if q.lost.Swap(false) {
			// The entries it lost are the latest writes, not ones in
			// flight: send them however young.
			p, fresh, due = q, window{}, &q.lost
			break
		}
	}
	if due == nil && p.behind.Load() {
		// Its stream is sending it what it missed: a round now would
		// send that again.
		return 0, 0, true
	}
	var err error
	inBackground(func() { buckets, records, err = n.repairAs(p, kind, fresh, n.paced()) })
	if !errors.Is(err, errRepairBusy) {
		n.busyInARow = 0
	}
	switch {
	case errors.Is(err, errRepairBusy):
		if due != nil {
			due.Store(true) // first again next time
			n.retryBusy()
		}
	case err != nil && !n.isClosed():
		n.log.Warn("repair round failed", "node", p.name, "err", err)
		if due != nil {
			due.Store(true) // first again next time
		}
	}
	// Another peer that lost entries or came back meanwhile goes next, at
	// once.
	for _, q := range peers {
		if q != p && (q.lost.Load() || q.back.Load()) {
			n.wakeRepair()
			break
		}
	}
	return buckets, records, err == nil
}

// reconcileSurvivors runs a round, young records included, with every
// peer whose name sorts after this node's: after a peer failed, what it
// had streamed to some survivors and not to others is then on all of them
// within a round, instead of whenever a periodic round finds it. Each pair
// of survivors reconciles once, dialed by the first by name.
func (n *Node) reconcileSurvivors() {
	n.mu.Lock()
	var peers []*peer
	for name, p := range n.peers {
		if name > n.cfg.NodeName {
			peers = append(peers, p)
		}
	}
	n.mu.Unlock()
	for _, p := range peers {
		start := time.Now()
		_, records, err := n.repairAs(p, msgCatchUp, window{}, pace{})
		switch {
		case errors.Is(err, errRepairBusy):
			n.peerFailed.Store(true) // again, shortly: it must not wait
			time.AfterFunc(busyRetry, n.wakeRepair)
			return
		case err != nil && !n.isClosed():
			n.log.Warn("reconciling with a survivor after a peer failed", "node", p.name, "err", err)
			n.peerFailed.Store(true) // again at the next round
		case err == nil:
			n.log.Info("reconciled with a survivor after a peer failed", "node", p.name, "records_exchanged", records, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

// paced returns the pace of a round that may take its time: a periodic
// one, or one with a peer that fell behind or came back.
func (n *Node) paced() pace { return pace{on: true, stop: n.stop, hurry: &n.peerFailed} }

// wakeRepair asks the repair loop for a round at once.
func (n *Node) wakeRepair() {
	select {
	case n.repairNow <- struct{}{}:
	default:
	}
}

// repairAs runs one repair round with p, as the dialer, opening it with
// kind (msgDigest, or msgCatchUp to send the young records too), not
// sending records stamped within fresh, and pacing its walks as pc says. It
// returns how many buckets differed and how many records it exchanged.
func (n *Node) repairAs(p *peer, kind byte, fresh window, pc pace) (buckets int, records uint64, err error) {
	if !n.repairing.TryLock() {
		return 0, 0, errRepairBusy
	}
	defer n.repairing.Unlock()
	floor, mine, err := n.digests(pc)
	if err != nil {
		return 0, 0, err
	}
	ch, err := n.dialData(p, appendDigest(nil, kind, floor, mine))
	if err != nil {
		return 0, 0, err
	}
	defer n.untrack(ch.nc)
	msg, err := ch.readMsg()
	if err != nil {
		return 0, 0, err
	}
	if notReady(msg) {
		return 0, 0, errRepairBusy
	}
	theirFloor, theirs, err := decodeDigest(msg)
	if err != nil {
		return 0, 0, err
	}
	return n.reconcile(ch, p.name, fresh, mine, theirFloor, theirs, true, pc)
}

// errRepairBusy is a round's error when this node or the peer takes part
// in another round: it is tried again shortly.
var errRepairBusy = errors.New("cluster: a repair round is under way already")

// retryBusy asks for another round shortly, after errRepairBusy: after
// busyRetry, twice as long after each refusal in a row (a peer that gets a
// backlog from this node's stream refuses rounds for as long as that
// takes, and each try walks the store for its digests first), up to
// maxBusyRetry. Called from the repair loop only.
func (n *Node) retryBusy() {
	d := min(busyRetry<<min(n.busyInARow, 10), maxBusyRetry)
	n.busyInARow++
	time.AfterFunc(d, n.wakeRepair)
}

// busyRetry is how long a round that found a node busy waits, at first.
const busyRetry = 100 * time.Millisecond

// maxBusyRetry bounds the wait of a round refused again and again.
const maxBusyRetry = 5 * time.Second

// answerRepair serves a repair round a peer opened with its digest. A node
// takes part in one round at a time, dialed or answered: when two peers
// find at once that this node fell behind (or its own round is due), the
// second is answered msgNotReady and tries again shortly, once the first
// has brought what was missing, and then sends only what is left instead
// of everything again. Neither side waits for the other, so two nodes
// dialing each other cannot deadlock.
func (n *Node) answerRepair(ch *channel, them hello, first []byte) error {
	if first[0] != msgCatchUp && n.resuming(them.Node) || !n.repairing.TryLock() {
		// Busy, or the peer is about to get what it missed from our
		// stream (a periodic round would send that again): it tries
		// again later.
		ch.writeMsg([]byte{msgNotReady})
		return ch.Flush()
	}
	defer n.repairing.Unlock()
	theirFloor, theirs, err := decodeDigest(first)
	if err != nil {
		return err
	}
	if first[0] == msgCatchUp {
		// The peer catches up (or reconciles after a failure): send the
		// young too, and at once.
		return n.answerRound(ch, them, theirFloor, theirs, window{}, pace{})
	}
	inBackground(func() { err = n.answerRound(ch, them, theirFloor, theirs, n.inFlight(), n.paced()) })
	return err
}

// answerRound sends this node's digest and reconciles with the peer that
// sent theirs, leaving out records stamped within fresh and pacing its
// walks as pc says.
func (n *Node) answerRound(ch *channel, them hello, theirFloor sessiond.Version, theirs []uint64, fresh window, pc pace) error {
	floor, mine, err := n.digests(pc)
	if err != nil {
		return err
	}
	ch.writeMsg(appendDigest(nil, msgDigest, floor, mine))
	if err := ch.Flush(); err != nil {
		return err
	}
	_, _, err = n.reconcile(ch, them.Node, fresh, mine, theirFloor, theirs, false, pc)
	return err
}

// resuming reports whether the peer named name is being sent a backlog
// by this node's stream (see backlog), or is about to be: it is back and
// its first stream has not started, or it went away with its place in
// the log kept and this node has not seen it come back yet.
func (n *Node) resuming(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.peers[name]; p != nil {
		return p.behind.Load()
	}
	return n.gone[name] != nil
}

// settleTime is how old a write must be before repair sends it: younger
// ones are, nearly always, still on their way through the streams (whose
// lag is milliseconds), and a later round sends them if they are not.
const settleTime = time.Second

// window is a range of version times (lo, hi].
type window struct{ lo, hi uint64 }

func (w window) holds(t uint64) bool { return t > w.lo && t <= w.hi }

// inFlight returns the version times of writes repair leaves to the
// streams: those stamped within settleTime of the store's clock, before or
// after it. The age is read off the wall clock, not the hybrid logical
// clock: a record from a node whose clock ran ahead moves the logical
// clock past the wall, and every write after it would look young for as
// long as the skew lasts. Those writes, stamped more than settleTime ahead
// of the wall clock, are sent at once instead.
func (n *Node) inFlight() window {
	ms := n.st.Now().UnixMilli()
	d := settleTime.Milliseconds()
	return window{lo: hlc.Make(max(ms-d, 0), 0), hi: hlc.Make(ms+d, 0xffff)}
}

// reconcile ends a repair round once both digests are known: it applies the
// peer's floor, compares versions in the buckets that differ and exchanges
// the records that differ, the dialer sending its list first. Records
// stamped within fresh (see inFlight) are not sent.
func (n *Node) reconcile(ch *channel, peer string, fresh window, mine []uint64, theirFloor sessiond.Version, theirs []uint64, dialer bool, pc pace) (buckets int, records uint64, err error) {
	if err := n.raiseFloor(theirFloor); err != nil {
		return 0, 0, err
	}
	diff, k := differing(mine, theirs)
	if k == 0 {
		return 0, 0, nil
	}
	list, err := n.versions(diff, pc)
	if err != nil {
		return k, 0, err
	}
	var sent, got uint64
	if dialer {
		err = n.reconcileDialer(ch, diff, fresh, list, &sent, &got, pc)
	} else {
		err = n.reconcileAcceptor(ch, diff, fresh, list, &sent, &got, pc)
	}
	if err != nil {
		return k, sent + got, fmt.Errorf("after %d records sent and %d received: %w", sent, got, err)
	}
	n.noteRepair(peer, k, sent, got)
	return k, sent + got, nil
}

func (n *Node) reconcileDialer(ch *channel, diff []bool, fresh window, list []keyVersion, sent, got *uint64, pc pace) error {
	if err := sendVersions(ch, list); err != nil {
		return err
	}
	if err := ch.Flush(); err != nil {
		return err
	}
	var err error
	if *got, _, err = n.receiveRecords(ch, nil); err != nil {
		return err
	}
	want, err := receiveHashes(ch, len(list))
	if err != nil {
		return err
	}
	*sent, err = n.sendRecords(ch, inBuckets(diff, want, fresh), pc)
	return err
}

func (n *Node) reconcileAcceptor(ch *channel, diff []bool, fresh window, list []keyVersion, sent, got *uint64, pc pace) error {
	send, want, err := compareVersions(ch, list)
	if err != nil {
		return err
	}
	if *sent, err = n.sendRecords(ch, inBuckets(diff, send, fresh), pc); err != nil {
		return err
	}
	if err := sendHashes(ch, want); err != nil {
		return err
	}
	if err := ch.Flush(); err != nil {
		return err
	}
	*got, _, err = n.receiveRecords(ch, nil)
	return err
}

func (n *Node) noteRepair(peer string, buckets int, sent, got uint64) {
	if sent+got == 0 {
		n.log.Debug("repair round: the buckets that differed hold only writes still in flight", "node", peer, "buckets", buckets)
		return
	}
	n.stats.repairs.Add(1)
	n.stats.repaired.Add(int64(sent + got))
	n.log.Info("repair exchanged records", "node", peer, "buckets", buckets, "records_sent", sent, "records_received", got)
}

// Digest returns a digest of the store's whole set, 16 hex digits: nodes
// that hold the same records (keys, versions, deletes) return the same one.
// It visits every record.
func (n *Node) Digest() (string, error) {
	floor, d, err := n.digests(pace{})
	if err != nil {
		return "", err
	}
	var x uint64
	for _, b := range d {
		x ^= b
	}
	x ^= floor.Time*0x9e3779b97f4a7c15 ^ uint64(floor.Node)
	return fmt.Sprintf("%016x", x), nil
}
