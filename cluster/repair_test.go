package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// A repair round sends the records that differ, not the whole buckets
// they are in.
func TestRepairSendsOnlyDifferences(t *testing.T) {
	noRepair := func(c *Config) { c.RepairInterval = time.Hour }
	a := startNode(t, "a", "", noRepair)
	b := startNode(t, "b", a.GossipAddr(), noRepair)
	eventually(t, "b ready", b.Ready)
	// Writes that bypass replication, as if their stream was lost, and
	// old enough for repair to send them: the same 20,000 keys on both
	// (about 20 a bucket), then newer versions on each side, a key only
	// one side holds, and a delete.
	ago := func(d time.Duration) sessiond.Version {
		return sessiond.Version{Time: uint64(time.Now().Add(-d).UnixMilli()) << 16, Node: 99}
	}
	apply := func(n *testNode, rec sessiond.Record) {
		t.Helper()
		if ok, err := n.st.Apply(rec); !ok || err != nil {
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
	if err := a.repairWith(p); err != nil {
		t.Fatal(err)
	}
	if got := a.stats.repaired.Load(); got != 5 {
		t.Errorf("records exchanged = %d, want 5 (the ones that differ)", got)
	}
	// b applies what a sent after a's side of the round has ended.
	eventually(t, "both hold the newest version of every other key", func() bool {
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
	if err := a.repairWith(p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the young writes, settled, are sent by the next round", func() bool {
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
	eventually(t, "b ready", b.Ready)
	ahead := sessiond.Version{Time: uint64(time.Now().Add(time.Minute).UnixMilli()) << 16, Node: 99}
	// A record from the fast node moves a's clock; a's next write, stamped
	// after it, moves b's through the stream.
	if _, err := a.st.Apply(sessiond.Record{Key: "from-a-fast-node", Value: []byte("x"), Version: ahead}); err != nil {
		t.Fatal(err)
	}
	if err := a.st.Set("seen", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b has a's write", func() bool { return value(b.st, "seen") == "x" })
	// A write on b whose stream was lost, stamped by b's clock: a minute
	// ahead of the wall.
	seen, _, err := b.st.Load("seen")
	if err != nil {
		t.Fatal(err)
	}
	if seen.Version.Time <= ahead.Time {
		t.Fatalf("a's write is stamped %d, not after the fast node's %d", seen.Version.Time, ahead.Time)
	}
	lost := sessiond.Record{Key: "lost", Value: []byte("b"), Version: sessiond.Version{Time: seen.Version.Time + 1, Node: 7}}
	if ok, err := b.st.Apply(lost); !ok || err != nil {
		t.Fatalf("apply: %v %v", ok, err)
	}

	b.mu.Lock()
	p := b.peers["a"]
	b.mu.Unlock()
	if err := b.repairWith(p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first round brings the lost write to a", func() bool { return value(a.st, "lost") == "b" })
}
