package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/hlc"
	"github.com/sessiond/sessiond/internal/testkit"
)

// TestRestartCatchesUpByDifference: a node restarted with its data
// directory loads it, then takes from its peer only what it missed while
// down (a repair round), not the whole set; a deleted session stays
// deleted.
func TestRestartCatchesUpByDifference(t *testing.T) {
	dir := t.TempDir()
	slow := func(c *Config) { c.RepairInterval = time.Hour } // only the catch-up repairs
	a := startNode(t, "a", "", slow)
	for i := range 1000 {
		a.st.Set(fmt.Sprintf("k%d", i), []byte("v"), 0)
	}
	a.st.Set("doomed", []byte("v"), 0)
	b := startNodeWith(t, "b", a.GossipAddr(), slow, &sessiond.Options{Dir: dir})
	testkit.Eventually(t, converge, "b holds a's set", func() bool { n, _ := b.st.Len(); return n == 1001 })
	b.Node.Close() // down, without a goodbye
	b.st.Close()
	testkit.Eventually(t, converge, "a declares b failed", func() bool { m := a.Status().Members; return len(m) == 1 || m[1].State == "failed" })

	for i := range 50 {
		a.st.Set(fmt.Sprintf("missed%d", i), []byte("v"), 0)
	}
	a.st.Delete("doomed")
	b = startNodeWith(t, "b", a.GossipAddr(), slow, &sessiond.Options{Dir: dir})
	testkit.Eventually(t, converge, "b ready", b.Ready)
	testkit.Eventually(t, converge, "b has what it missed", func() bool { return value(b.st, "missed49") == "v" })
	if got := value(b.st, "doomed"); got != "<missing>" {
		t.Errorf("a session deleted while b was down is back on b: %q", got)
	}
	if s := b.Status(); s.Repaired == 0 || s.Repaired > 200 {
		t.Errorf("b exchanged %d records to catch up on 51 changes, of 1,051 records", s.Repaired)
	}
}

// TestSurvivorsReconcileAtOnce: a write the failed node had streamed to
// one survivor but not the other is on both within a second of the
// failure being detected, not at the next periodic repair.
func TestSurvivorsReconcileAtOnce(t *testing.T) {
	slow := func(c *Config) { c.RepairInterval = time.Hour }
	a := startNode(t, "a", "", slow)
	b := startNode(t, "b", a.GossipAddr(), slow)
	c := startNode(t, "c", a.GossipAddr(), slow)
	testkit.Eventually(t, converge, "three ready", func() bool { return b.Ready() && c.Ready() })
	// a's last write reached b, not c: as if a's stream to c was behind
	// when a died.
	rec := sessiond.Record{Key: "last", Value: []byte("v"), Version: sessiond.Version{Time: hlc.Make(time.Now().UnixMilli(), 0), Node: a.ID()}}
	if ok, err := b.st.Replica().Apply(rec); !ok || err != nil {
		t.Fatalf("Apply on b: %v, %v", ok, err)
	}
	a.Node.Close() // no goodbye
	// Detected: declared failed (not only suspected), which is when the
	// node drops the peer and the survivors reconcile.
	failed := func(n *testNode) bool {
		for _, m := range n.Status().Members {
			if m.Name == "a" {
				return m.State == "failed" || m.State == "left"
			}
		}
		return true
	}
	// Failure detection takes seconds, more on a loaded machine: its own,
	// longer wait.
	for deadline := time.Now().Add(30 * time.Second); !(failed(b) && failed(c)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b and c did not declare a failed within 30s")
		}
	}
	detected := time.Now()
	testkit.Eventually(t, converge, "c holds a's last write", func() bool { return value(c.st, "last") == "v" })
	if took := time.Since(detected); took > time.Second {
		t.Errorf("c had a's last write %v after the failure was detected, want within 1s", took)
	}
}
