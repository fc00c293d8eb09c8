package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
)

// A node that left comes back under its name at another address (a
// container restarted with a new IP) and joins: the name is taken only by
// a member that is alive.
func TestRejoinAtNewAddress(t *testing.T) {
	a, b := pairWithKey(t)
	if err := b.Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "a sees b leave", func() bool { return len(a.Status().Members) == 1 || a.Status().Members[1].State != "alive" })

	back := startNode(t, "b", a.GossipAddr(), func(c *Config) { c.JoinTimeout = 5 * time.Second })
	testkit.Eventually(t, converge, "the new b ready", back.Ready)
	if got := value(back.st, "k"); got != "v" {
		t.Errorf("k on the new b = %q, want v", got)
	}
}

// The same after a crash: once the others declare it failed, a node of
// the failed one's name comes back at another address.
func TestRejoinAfterCrashAtNewAddress(t *testing.T) {
	a, b := pairWithKey(t)
	b.Close() // no goodbye
	testkit.Eventually(t, converge, "a declares b failed", func() bool { return len(a.Status().Members) == 1 || a.Status().Members[1].State == "failed" })

	back := startNode(t, "b", a.GossipAddr(), func(c *Config) { c.JoinTimeout = 5 * time.Second })
	testkit.Eventually(t, converge, "the new b ready", back.Ready)
	testkit.Eventually(t, converge, "a streams to the new b", func() bool {
		for _, m := range a.Status().Members {
			if m.Name == "b" && m.State == "alive" && m.Connected {
				return true
			}
		}
		return false
	})
	if got := value(back.st, "k"); got != "v" {
		t.Errorf("k on the new b = %q, want v", got)
	}
	if err := a.st.Set("k2", []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "a write through a reaches the new b", func() bool { return value(back.st, "k2") == "v2" })
}

// pairWithKey starts nodes a and b and has both hold k = v.
func pairWithKey(t *testing.T) (a, b *testNode) {
	t.Helper()
	a = startNode(t, "a", "", nil)
	b = startNode(t, "b", a.GossipAddr(), nil)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	if err := a.st.Set("k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "b has k", func() bool { return value(b.st, "k") == "v" })
	return a, b
}

// Was: a node taking larger values than a peer sent it a record in a
// message larger than the peer takes, and the stream to that peer stopped
// for good. Nodes that cannot stream with each other now refuse to join.
func TestMaxValueSizeMismatch(t *testing.T) {
	big := func(c *Config) { c.JoinTimeout = 2 * time.Second }
	a := startNodeWith(t, "a", "", big, &sessiond.Options{MaxValueSize: 8 << 20})
	err := refusedJoin(t, "b", a.GossipAddr())
	if !errors.Is(err, ErrMaxValueSize) || !strings.Contains(err.Error(), "max value size") {
		t.Errorf("the error is not ErrMaxValueSize, naming the max value size: %v", err)
	}
	if got := len(a.Status().Members); got != 1 {
		t.Errorf("a lists %d members after the refused join", got)
	}

	// Below the message bound the sizes may differ (a rolling change).
	c := startNodeWith(t, "c", "", nil, &sessiond.Options{MaxValueSize: 1 << 20})
	d := startNodeWith(t, "d", c.GossipAddr(), nil, &sessiond.Options{MaxValueSize: 2 << 20})
	testkit.Eventually(t, converge, "d ready", d.Ready)
}

// Two names whose ids (a hash of the name) are the same cannot be in one
// cluster: they could stamp two different writes with one version.
func TestNodeIDCollision(t *testing.T) {
	if NodeID("node-259787") != NodeID("node-317598") {
		t.Fatal("the test's names no longer collide")
	}
	a := startNode(t, "node-259787", "", nil)
	err := refusedJoin(t, "node-317598", a.GossipAddr())
	if !errors.Is(err, ErrNameConflict) || !strings.Contains(err.Error(), "another name") {
		t.Errorf("the error is not ErrNameConflict, asking for another name: %v", err)
	}
}

// refusedJoin opens a node named name joining join with the defaults, and
// returns the error that refused it; it fails the test if the node joined.
func refusedJoin(t *testing.T, name, join string) error {
	t.Helper()
	cfg := Config{NodeName: name, BindAddr: "127.0.0.1:0", ClusterName: "test", Join: []string{join}, JoinTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	st, n, err := Open(context.Background(), cfg, nil)
	if err == nil {
		n.Close()
		st.Close()
		t.Fatalf("%s joined", name)
	}
	t.Logf("%s refused: %v", name, err)
	return err
}
