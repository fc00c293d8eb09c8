// Regression tests for defects a review of the cluster found. Each
// comment says what went wrong before the fix; the test checks it does not.

package cluster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
)

// Was: a peer whose stream reconnects after the log dropped entries it had not
// received acknowledges, on the first batch after the gap, sequence numbers
// that cover the dropped entries: writes waiting for --sync-replicas 1 are
// released as replicated although the peer never got them.
func TestSyncAckAcrossLogGap(t *testing.T) {
	sync1 := func(c *Config) {
		c.SyncReplicas = 1
		c.SyncTimeout = 10 * time.Second
		c.RepairInterval = time.Hour // only the stream counts
	}
	a := startNode(t, "a", "", sync1)
	b := startNode(t, "b", a.GossipAddr(), sync1)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	var p *peer
	testkit.Eventually(t, converge, "a streams to b", func() bool {
		a.mu.Lock()
		p = a.peers["b"]
		a.mu.Unlock()
		return p != nil && p.connected.Load()
	})
	if err := a.st.Set("warm", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}

	// A blip: the stream to b breaks, and its sender is held before it
	// reconnects (it takes p.mu right after dialing).
	p.mu.Lock()
	p.nc.Close()
	testkit.Eventually(t, converge, "stream down", func() bool { return !p.connected.Load() })
	base := a.out.last()
	const writers = 100
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.st.Set(fmt.Sprintf("k%03d", i), bytes.Repeat([]byte{'v'}, 2<<10), 0)
		}()
	}
	for a.out.last() < base+writers {
		time.Sleep(time.Millisecond)
	}
	p.mu.Unlock() // reconnect
	wg.Wait()

	acked, missing := 0, 0
	for i := range writers {
		if errs[i] != nil {
			continue
		}
		acked++
		if _, found, _ := b.st.Get(fmt.Sprintf("k%03d", i)); !found {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d writes acknowledged with --sync-replicas 1 are not on the only peer", missing, acked)
	}
}

// Was: the receiver acknowledged records its store refused (value too large,
// out of memory): a write acknowledged with --sync-replicas 1 is on no peer.
func TestSyncAckOfRefusedRecord(t *testing.T) {
	sync1 := func(c *Config) {
		c.SyncReplicas = 1
		c.RepairInterval = time.Hour
	}
	a := startNode(t, "a", "", sync1)
	b := startNodeWith(t, "b", a.GossipAddr(), sync1, &sessiond.Options{MaxValueSize: 32 << 10})
	testkit.Eventually(t, converge, "b ready", b.Ready)
	testkit.Eventually(t, converge, "a streams to b", func() bool { return a.WaitReplicas(1, time.Second, nil) == 1 })
	err := a.st.Set("big", make([]byte, 64<<10), 0)
	if _, found, _ := b.st.Get("big"); err == nil && !found {
		t.Errorf("write acknowledged with --sync-replicas 1, but the only peer refused it")
	}
}

// Was: the join sync (and repair) closed a message only after a Records call of
// 128 records: 128 sessions of 40 KiB make a 5 MiB message, past the
// receiver's 4 MiB bound, so the joiner fails and retries for ever.
func TestJoinSyncLargeSessions(t *testing.T) {
	a := startNode(t, "a", "", nil)
	v := bytes.Repeat([]byte{'s'}, 40<<10)
	for i := range 300 {
		if err := a.st.Set(fmt.Sprintf("sess:%d", i), v, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	b := startNode(t, "b", a.GossipAddr(), nil)
	deadline := time.Now().Add(8 * time.Second)
	for !b.Ready() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !b.Ready() {
		n, _ := b.st.Len()
		t.Fatalf("joiner not ready after 8s with 300 sessions of 40 KiB (holds %d)", n)
	}
}

// Was: before authentication, a 4-byte length made the acceptor allocate that
// many bytes (up to the data message bound, 4 MiB or more) and hold them
// for the handshake timeout; connections are not limited.
func TestUnauthenticatedAllocation(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a := startNode(t, "a", "", func(c *Config) { c.Keys = [][]byte{key} })
	addr := a.data.Addr().String()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns = 16
	var cs []net.Conn
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
		hdr := make([]byte, 4+nonceSize+4)
		copy(hdr, channelMagic)
		binary.BigEndian.PutUint32(hdr[4+nonceSize:], uint32(a.maxMsg))
		c.Write(hdr)
		io.ReadFull(c, make([]byte, 4+nonceSize)) // its magic and nonce
	}
	time.Sleep(300 * time.Millisecond)
	runtime.ReadMemStats(&after)
	for _, c := range cs {
		c.Close()
	}
	grew := after.TotalAlloc - before.TotalAlloc
	if grew > 8<<20 {
		t.Errorf("%d unauthenticated connections that sent 40 bytes each made the node allocate %d MiB", conns, grew>>20)
	}
}

// Was: a joiner picked its donor among every peer, a peer that is itself still
// syncing included, and the donor serves its partial set: the joiner says
// it is ready holding only part of the set.
func TestJoinFromUnreadyDonor(t *testing.T) {
	quiet := func(c *Config) {
		c.RepairInterval = time.Hour
		if testing.Verbose() {
			c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", c.NodeName)
		}
	}
	a := startNode(t, "a", "", quiet)
	const n = 150_000
	for i := range n {
		if err := a.st.Set(fmt.Sprintf("sess:%06d", i), []byte("0123456789012345678901234567890123456789"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	b := startNode(t, "b", a.GossipAddr(), quiet)
	testkit.Eventually(t, converge, "b syncing", func() bool { k, _ := b.st.Len(); return k > 0 })
	// b, or the joiners themselves, are peers still syncing.
	var cs []*testNode
	for i := range 4 {
		cs = append(cs, startNode(t, fmt.Sprintf("c%d", i), b.GossipAddr(), quiet))
	}
	short := 0
	for _, c := range cs {
		for !c.Ready() {
			time.Sleep(time.Millisecond)
		}
		if k, _ := c.st.Len(); k < n {
			short++
			t.Logf("%s ready holding %d of %d sessions", c.Name(), k, n)
		}
	}
	if short > 0 {
		t.Errorf("%d of %d joiners reported ready without the whole set", short, len(cs))
	}
}
