package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessiond/sessiond/internal/testkit"
)

// awayAndBack starts a and b (no periodic repair, mod's settings), has b
// apply a few of a's writes, has a see b go away (as when it is declared
// failed), writes keys on a meanwhile, calls between (which returns how
// many more it wrote), then has a see b come back, and waits until b holds
// every key.
func awayAndBack(t *testing.T, keys int, mod func(*Config), between func(a *testNode) int) (*testNode, *testNode) {
	t.Helper()
	a, b, member := twoNodes(t, func(c *Config) {
		c.RepairInterval = time.Hour
		if mod != nil {
			mod(c)
		}
	})

	// b resumes a's log past these: the same process, back.
	write(t, a, "before", 10)
	testkit.Eventually(t, converge, "b applies a's first writes", func() bool { n, _ := b.st.Len(); return n == 10 })

	a.memberDown(member)
	write(t, a, "k", keys)
	keys += 10 + between(a)
	a.memberUp(member)
	deadline := time.Now().Add(converge)
	for n, _ := b.st.Len(); n != keys; n, _ = b.st.Len() {
		if time.Now().After(deadline) {
			t.Fatalf("b holds %d keys of the %d written on a while it was away; a: %+v", n, keys, a.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a, b
}

// TestMemberBackResumesLog: a member that went away (declared failed) and
// comes back, the same process, gets what it missed from the log where
// its stream stopped, at a pace, without a repair round (which would walk
// both stores, and used to send each missed change again).
func TestMemberBackResumesLog(t *testing.T) {
	const keys = 3 * pacedBacklog // paced: a backlog of more than pacedBacklog
	a, b := awayAndBack(t, keys, nil, func(a *testNode) int {
		a.mu.Lock()
		g := a.gone["b"]
		a.mu.Unlock()
		if g == nil {
			t.Fatal("a keeps no place in its log for b, which went away")
		}
		if !a.resuming("b") {
			t.Error("a would answer a periodic repair round from b, which is away with its place kept")
		}
		return 0
	})
	a.mu.Lock()
	p, gone := a.peers["b"], a.gone["b"]
	a.mu.Unlock()
	if r := a.stats.repaired.Load() + b.stats.repaired.Load(); r != 0 {
		t.Errorf("repair exchanged %d records: b was not caught up by the log alone", r)
	}
	if p.back.Load() {
		t.Error("a asks for a round with b, which resumed its log")
	}
	if got := b.stats.applied.Load(); got < keys+10 || got > keys+keys/10 {
		t.Errorf("b applied %d records for the %d it missed and 10 before: want each about once", got, keys)
	}
	if gone != nil {
		t.Error("a still keeps b's old place after b came back")
	}
	if n := p.paced.Load(); n == 0 {
		t.Error("no message of the backlog was paced")
	}
	testkit.Eventually(t, converge, "backlog sent", func() bool { return !p.behind.Load() })
	if n := readers(a); n != 1 {
		t.Errorf("a's log has %d readers for its one peer", n)
	}
}

// TestMemberBackNothingApplied: a member that had applied none of a's log
// (a took no writes before it went away) comes back the same process: it
// gets the log from the start, counts for sync writes, and needs no round.
func TestMemberBackNothingApplied(t *testing.T) {
	a, _, member := twoNodes(t, func(c *Config) { c.RepairInterval = time.Hour; c.SyncReplicas = 1; c.SyncTimeout = 2 * time.Second })
	a.memberDown(member)
	a.memberUp(member)
	a.mu.Lock()
	p := a.peers["b"]
	a.mu.Unlock()
	testkit.Eventually(t, converge, "a streams to b again", p.connected.Load)
	for i := range 5 {
		if err := a.st.Set(fmt.Sprintf("k%d", i), []byte("v"), time.Hour); err != nil {
			t.Fatalf("a sync write after b came back: %v", err)
		}
	}
	if p.back.Load() {
		t.Error("a asks for a round with b, the same process, back")
	}
}

// TestMemberBackAfterPlaceDropped: a member away longer than keepPlaceFor
// has lost its place; when it comes back, a repair round brings what it
// missed, and the log keeps no reader for its earlier life.
func TestMemberBackAfterPlaceDropped(t *testing.T) {
	const keys = 200
	a, b := awayAndBack(t, keys, nil, func(a *testNode) int {
		a.mu.Lock()
		g := a.gone["b"]
		g.downAt = time.Now().Add(-keepPlaceFor - time.Second)
		a.mu.Unlock()
		<-g.done // its sender has left its place
		a.forgetGone()
		a.mu.Lock()
		gone := len(a.gone)
		a.mu.Unlock()
		if readers := readers(a); gone != 0 || readers != 0 {
			t.Errorf("after keepPlaceFor a keeps %d members gone and %d readers of its log", gone, readers)
		}
		// More writes, and the log drops what no reader needs: what b
		// missed before.
		write(t, a, "more", keys)
		return keys
	})
	if r := a.stats.repairs.Load() + b.stats.repairs.Load(); r == 0 {
		t.Error("b caught up without a repair round, with its place in the log dropped: the test shows nothing")
	}
}

// twoNodes starts nodes a and b with mod's settings, waits until a streams to
// b, and returns them with b as a's member list has it.
func twoNodes(t *testing.T, mod func(*Config)) (a, b *testNode, member *memberlist.Node) {
	t.Helper()
	a = startNode(t, "a", "", mod)
	b = startNode(t, "b", a.GossipAddr(), mod)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	a.mu.Lock()
	p := a.peers["b"]
	a.mu.Unlock()
	testkit.Eventually(t, converge, "a streams to b", p.connected.Load)
	for _, m := range a.ml.Members() {
		if m.Name == "b" {
			member = m
		}
	}
	if member == nil {
		t.Fatal("a has no member b")
	}
	return a, b, member
}

// write sets n keys prefix0, prefix1, ... on a, with 500-byte values.
func write(t *testing.T, a *testNode, prefix string, n int) {
	t.Helper()
	value := make([]byte, 500)
	for i := range n {
		if err := a.st.Set(fmt.Sprintf("%s%d", prefix, i), value, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
}

// readers returns how many readers a's log has.
func readers(a *testNode) int {
	a.out.mu.Lock()
	defer a.out.mu.Unlock()
	return len(a.out.readers)
}
