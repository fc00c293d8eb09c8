package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
)

// A repair round sends the records that differ, not the whole buckets
// they are in.
func TestRepairSendsOnlyDifferences(t *testing.T) {
	noRepair := func(c *Config) { c.RepairInterval = time.Hour }
	a := startNode(t, "a", "", noRepair)
	b := startNode(t, "b", a.GossipAddr(), noRepair)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	// Writes that bypass replication, as if their stream was lost, and
	// old enough for repair to send them: the same 20,000 keys on both
	// (about 20 a bucket), then newer versions on each side, a key only
	// one side holds, and a delete.
	ago := func(d time.Duration) sessiond.Version {
		return sessiond.Version{Time: uint64(time.Now().Add(-d).UnixMilli()) << 16, Node: 99}
	}
	apply := func(n *testNode, rec sessiond.Record) {
		t.Helper()
		if ok, err := n.st.Replica().Apply(rec); !ok || err != nil {
			t.Fatalf("apply %s: %v %v", rec.Key, ok, err)
		}
	}
	const keys = 20000
	old := ago(time.Hour)
	for i := range keys {
		rec := sessiond.Record{Key: fmt.Sprintf("k%d", i), Value: []byte("v"), Expires: time.Now().Add(time.Hour).UnixMilli(), Version: old}
		apply(a, rec)
		apply(b, rec)
	}
	newer := ago(time.Minute)
	apply(a, sessiond.Record{Key: "k1", Value: []byte("a"), Version: newer})
	apply(a, sessiond.Record{Key: "k2", Value: []byte("a"), Version: newer})
	apply(a, sessiond.Record{Key: "k3", Deleted: true, Version: newer})
	apply(b, sessiond.Record{Key: "k4", Value: []byte("b"), Version: newer})
	apply(b, sessiond.Record{Key: "only-b", Value: []byte("b"), Version: newer})
	// A write younger than settleTime is taken for one still in its
	// stream: not sent yet, by either side.
	apply(a, sessiond.Record{Key: "young", Value: []byte("a"), Version: ago(0)})
	apply(b, sessiond.Record{Key: "young-b", Value: []byte("b"), Version: ago(0)})

	a.mu.Lock()
	p := a.peers["b"]
	a.mu.Unlock()
	if p == nil {
		t.Fatal("a has no peer b")
	}
	if _, _, err := a.repairAs(p, msgDigest, a.inFlight(), pace{}); err != nil {
		t.Fatal(err)
	}
	if got := a.stats.repaired.Load(); got != 5 {
		t.Errorf("records exchanged = %d, want 5 (the ones that differ)", got)
	}
	// b applies what a sent after a's side of the round has ended.
	testkit.Eventually(t, converge, "both hold the newest version of every other key", func() bool {
		for _, n := range []*testNode{a, b} {
			for key, want := range map[string]string{"k1": "a", "k2": "a", "k3": "<missing>", "k4": "b", "only-b": "b", "k5": "v"} {
				if value(n.st, key) != want {
					return false
				}
			}
		}
		return b.stats.repaired.Load() == 5
	})
	if got := value(b.st, "young"); got != "<missing>" {
		t.Errorf("young = %q on b after the first round, want it not sent yet", got)
	}
	if got := value(a.st, "young-b"); got != "<missing>" {
		t.Errorf("young-b = %q on a after the first round, want it not sent yet", got)
	}

	time.Sleep(settleTime)
	if _, _, err := a.repairAs(p, msgDigest, a.inFlight(), pace{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "the young writes, settled, are sent by the next round", func() bool {
		da, _ := a.Digest()
		db, _ := b.Digest()
		return value(b.st, "young") == "a" && value(a.st, "young-b") == "b" && da == db
	})
	if got := a.stats.repaired.Load(); got != 7 {
		t.Errorf("records exchanged after two rounds = %d, want 7", got)
	}
}

// Was: a record from a node whose clock ran a minute ahead moved the
// receiver's logical clock a minute past its wall clock, and repair,
// judging age by the logical clock, held back every write made after it
// for that minute. Age is now judged by the wall clock: a write stamped
// far ahead of it is sent at once.
func TestRepairAfterClockSkew(t *testing.T) {
	noRepair := func(c *Config) { c.RepairInterval = time.Hour }
	a := startNode(t, "a", "", noRepair)
	b := startNode(t, "b", a.GossipAddr(), noRepair)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	ahead := sessiond.Version{Time: uint64(time.Now().Add(time.Minute).UnixMilli()) << 16, Node: 99}
	// A record from the fast node moves a's clock; a's next write, stamped
	// after it, moves b's through the stream.
	if _, err := a.st.Replica().Apply(sessiond.Record{Key: "from-a-fast-node", Value: []byte("x"), Version: ahead}); err != nil {
		t.Fatal(err)
	}
	if err := a.st.Set("seen", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "b has a's write", func() bool { return value(b.st, "seen") == "x" })
	// A write on b whose stream was lost, stamped by b's clock: a minute
	// ahead of the wall.
	seen, _, err := b.st.Replica().Load("seen")
	if err != nil {
		t.Fatal(err)
	}
	if seen.Version.Time <= ahead.Time {
		t.Fatalf("a's write is stamped %d, not after the fast node's %d", seen.Version.Time, ahead.Time)
	}
	lost := sessiond.Record{Key: "lost", Value: []byte("b"), Version: sessiond.Version{Time: seen.Version.Time + 1, Node: 7}}
	if ok, err := b.st.Replica().Apply(lost); !ok || err != nil {
		t.Fatalf("apply: %v %v", ok, err)
	}

	b.mu.Lock()
	p := b.peers["a"]
	b.mu.Unlock()
	if _, _, err := b.repairAs(p, msgDigest, b.inFlight(), pace{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "the first round brings the lost write to a", func() bool { return value(a.st, "lost") == "b" })
}

// A peer that falls behind the log's bound is repaired at once, not at the
// next repair interval.
func TestRepairPeerBehindLog(t *testing.T) {
	a, b, _ := twoNodes(t, func(c *Config) { c.RepairInterval = time.Hour; c.MaxLogBytes = 64 << 10 })
	a.mu.Lock()
	p := a.peers["b"]
	a.mu.Unlock()

	// Break the stream; while a reconnects, write more than the log holds.
	p.mu.Lock()
	p.nc.Close()
	p.mu.Unlock()
	value := make([]byte, 1000)
	const keys = 1000 // a megabyte: sixteen times the log's bound
	for i := range keys {
		if err := a.st.Set(fmt.Sprintf("k%d", i), value, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := b.st.Len(); n != keys; n, _ = b.st.Len() {
		if time.Now().After(deadline) {
			st := a.Status()
			a.out.mu.Lock()
			oldest, next, size := a.out.oldest(), a.out.next, a.out.size
			var rs []logReader
			for _, r := range a.out.readers {
				rs = append(rs, *r)
			}
			a.out.mu.Unlock()
			t.Fatalf("b holds %d keys of %d; a's log %d..%d (%d bytes), readers %+v; a: %+v", n, keys, oldest, next, size, rs, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a.stats.repairs.Load()+b.stats.repairs.Load() == 0 {
		t.Error("b caught up without a repair round: the log did not overflow, and the test shows nothing")
	}
}
