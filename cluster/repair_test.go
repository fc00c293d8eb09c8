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
	// stream: not sent yet.
	apply(a, sessiond.Record{Key: "young", Value: []byte("a"), Version: ago(0)})

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

	time.Sleep(settleTime)
	if err := a.repairWith(p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the young write, settled, is sent by the next round", func() bool {
		da, _ := a.Digest()
		db, _ := b.Digest()
		return value(b.st, "young") == "a" && da == db
	})
	if got := a.stats.repaired.Load(); got != 6 {
		t.Errorf("records exchanged after two rounds = %d, want 6", got)
	}
}
