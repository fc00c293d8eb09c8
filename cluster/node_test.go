package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
)

type testNode struct {
	*Node
	st *sessiond.Store
}

// startNode starts a node on loopback with ephemeral ports, joining join
// (a gossip address) if not empty.
func startNode(t *testing.T, name string, join string, mod func(*Config)) *testNode {
	t.Helper()
	return startNodeWith(t, name, join, mod, nil)
}

// startNodeWith is startNode with the store's options.
func startNodeWith(t *testing.T, name string, join string, mod func(*Config), opts *sessiond.Options) *testNode {
	t.Helper()
	cfg := Config{
		NodeName:       name,
		BindAddr:       "127.0.0.1:0",
		ClusterName:    "test",
		RepairInterval: 500 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", name),
	}
	if join != "" {
		cfg.Join = []string{join}
	}
	if mod != nil {
		mod(&cfg)
	}
	st, n, err := Open(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		n.Close()
		st.Close()
	})
	return &testNode{n, st}
}

// converge is how long a test waits for the nodes to get where it expects
// them: joined, streaming, replicated, repaired.
const converge = 10 * time.Second

func value(st *sessiond.Store, key string) string {
	v, found, _ := st.Get(key)
	if !found {
		return "<missing>"
	}
	return string(v)
}

func TestReplication(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", a.GossipAddr(), nil)
	c := startNode(t, "c", a.GossipAddr(), nil)
	nodes := []*testNode{a, b, c}
	for _, n := range nodes {
		testkit.Eventually(t, converge, n.Name()+" ready", n.Ready)
	}

	// A write through any node is read through every other.
	for i, n := range nodes {
		key := fmt.Sprintf("sess:%d", i)
		if err := n.st.Set(key, []byte("v"+n.Name()), time.Hour); err != nil {
			t.Fatal(err)
		}
		for _, m := range nodes {
			testkit.Eventually(t, converge, key+" on "+m.Name(), func() bool { return value(m.st, key) == "v"+n.Name() })
		}
	}
	// Touch replicates.
	if found, err := b.st.Touch("sess:0", 10*time.Minute); !found || err != nil {
		t.Fatal(found, err)
	}
	for _, m := range nodes {
		testkit.Eventually(t, converge, "touch on "+m.Name(), func() bool {
			ttl, _, _ := m.st.TTL("sess:0")
			return ttl > 9*time.Minute && ttl <= 10*time.Minute
		})
	}
	// Delete replicates, and a stale write arriving later does not
	// bring the key back.
	rec, _, _ := c.st.Replica().Load("sess:1")
	if _, err := c.st.Delete("sess:1"); err != nil {
		t.Fatal(err)
	}
	for _, m := range nodes {
		testkit.Eventually(t, converge, "delete on "+m.Name(), func() bool { return value(m.st, "sess:1") == "<missing>" })
	}
	if applied, _ := a.st.Replica().Apply(rec); applied {
		t.Error("a stale write of a deleted key was applied")
	}
	// Clear replicates.
	if err := a.st.Clear(); err != nil {
		t.Fatal(err)
	}
	for _, m := range nodes {
		testkit.Eventually(t, converge, "clear on "+m.Name(), func() bool { n, _ := m.st.Len(); return n == 0 })
	}
}

func TestJoinSync(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", a.GossipAddr(), nil)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	for i := range 5000 {
		if err := a.st.Set(fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i)), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// The delete must follow the set's arrival on b, or it deletes
	// nothing and the set arrives after it.
	testkit.Eventually(t, converge, "b holds the set", func() bool { n, _ := b.st.Len(); return n == 5000 })
	if found, err := b.st.Delete("k7"); !found || err != nil {
		t.Fatalf("delete k7 on b: %v %v", found, err)
	}
	c := startNode(t, "c", b.GossipAddr(), nil)
	testkit.Eventually(t, converge, "c ready", c.Ready)
	testkit.Eventually(t, converge, "c holds the set", func() bool { n, _ := c.st.Len(); return n == 4999 }) // k7 was deleted
	for i := range 5000 {
		want := fmt.Sprint(i)
		if i == 7 {
			want = "<missing>"
		}
		if got := value(c.st, fmt.Sprintf("k%d", i)); got != want {
			t.Fatalf("k%d on the joiner = %s, want %s", i, got, want)
		}
	}
}

func TestSyncReplicas(t *testing.T) {
	a := startNode(t, "a", "", func(c *Config) { c.SyncReplicas = 1; c.SyncTimeout = 300 * time.Millisecond })
	if err := a.st.Set("k", []byte("v"), 0); err == nil {
		t.Fatal("a write with sync replicas 1 and no peer succeeded")
	}
	b := startNode(t, "b", a.GossipAddr(), nil)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	testkit.Eventually(t, converge, "a streams to b", func() bool { return a.WaitReplicas(1, 10*time.Millisecond, nil) == 1 })
	for i := range 100 {
		key := fmt.Sprintf("k%d", i)
		if err := a.st.Set(key, []byte("v"), 0); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		// Acknowledged means applied by b: no waiting.
		if got := value(b.st, key); got != "v" {
			t.Fatalf("%s acknowledged but b holds %s", key, got)
		}
	}
}

func TestRepair(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", a.GossipAddr(), nil)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	// Writes that bypass replication (as if their stream was lost).
	for i := range 300 {
		rec := sessiond.Record{Key: fmt.Sprintf("r%d", i), Value: []byte("x"), Version: sessiond.Version{Time: uint64(time.Now().UnixMilli()) << 16, Node: 99}}
		if i%2 == 0 {
			a.st.Replica().Apply(rec)
		} else {
			b.st.Replica().Apply(rec)
		}
	}
	testkit.Eventually(t, converge, "repair converges", func() bool {
		na, _ := a.st.Len()
		nb, _ := b.st.Len()
		return na == 300 && nb == 300
	})
}

func TestStatus(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", a.GossipAddr(), nil)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	a.st.Set("k", []byte("v"), 0)
	testkit.Eventually(t, converge, "b applied k", func() bool { return value(b.st, "k") == "v" })
	testkit.Eventually(t, converge, "a sees b connected and caught up", func() bool {
		s := a.Status()
		return len(s.Members) == 2 && s.Members[1].Name == "b" && s.Members[1].Connected && s.Members[1].LagRecords == 0 && s.Members[1].SentBytes > 0
	})
	s := a.Status()
	if !s.Ready || s.Name != "a" || s.ClusterName != "test" || !s.Members[0].Self || s.Members[0].State != "alive" {
		t.Errorf("status %+v", s)
	}
	if bs := b.Status(); bs.Applied < 1 || bs.StreamedIn == 0 {
		t.Errorf("b applied %d records from %d bytes, want at least 1", bs.Applied, bs.StreamedIn)
	}
}

// TestRefused: a node with another cluster key, or another cluster name,
// cannot join and learns nothing; a second node of an existing name is
// refused with an error that says so.
func TestRefused(t *testing.T) {
	key := func(b byte) func(*Config) {
		return func(c *Config) { c.Keys = [][]byte{keyOf(b)}; c.JoinTimeout = 2 * time.Second }
	}
	a := startNode(t, "a", "", key(1))
	a.st.Set("secret", []byte("v"), 0)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		is   error // the error wraps it, if not nil
	}{
		{"other key", key(2), ErrNoCommonKey},
		{"other keys", func(c *Config) { key(2)(c); c.Keys = append(c.Keys, keyOf(3)) }, ErrNoCommonKey},
		// a's key, but not first: it seals with one a does not have.
		{"a's key second", func(c *Config) { key(2)(c); c.Keys = append(c.Keys, keyOf(1)) }, ErrNoCommonKey},
		{"no key", func(c *Config) { c.JoinTimeout = 2 * time.Second }, ErrNoCommonKey},
		{"other cluster name", func(c *Config) { key(1)(c); c.ClusterName = "other" }, nil},
	} {
		cfg := Config{NodeName: "intruder", BindAddr: "127.0.0.1:0", ClusterName: "test", Join: []string{a.GossipAddr()},
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
		tc.mod(&cfg)
		st, n, err := Open(context.Background(), cfg, nil)
		if err == nil {
			got := value(st, "secret")
			n.Close()
			st.Close()
			t.Fatalf("%s: joined (and reads secret = %s)", tc.name, got)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v, want an error that wraps %v", tc.name, err, tc.is)
		}
		if got := len(a.Status().Members); got != 1 {
			t.Errorf("%s: a lists %d members after the refused join", tc.name, got)
		}
	}
	cfg := Config{NodeName: "a", BindAddr: "127.0.0.1:0", ClusterName: "test", Join: []string{a.GossipAddr()}, JoinTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	key(1)(&cfg)
	cfg.JoinTimeout = 2 * time.Second
	if st, n, err := Open(context.Background(), cfg, nil); err == nil {
		n.Close()
		st.Close()
		t.Fatal("a second node named a joined")
	} else {
		t.Logf("duplicate name: %v", err)
	}
}

// keyOf returns a 32-byte cluster key made from b.
func keyOf(b byte) []byte {
	k := make([]byte, 32)
	k[0] = b
	return k
}

// TestKeysInRotation: nodes in neighbouring steps of a rolling change of
// the cluster key ([old] and [old new], [old new] and [new old], [new old]
// and [new]) gossip, join and replicate both ways.
func TestKeysInRotation(t *testing.T) {
	old, new := keyOf(1), keyOf(2)
	for _, tc := range []struct {
		name string
		a, b [][]byte
	}{
		{"[old] and [old new]", [][]byte{old}, [][]byte{old, new}},
		{"[old new] and [new old]", [][]byte{old, new}, [][]byte{new, old}},
		{"[new old] and [new]", [][]byte{new, old}, [][]byte{new}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startNode(t, "a", "", func(c *Config) { c.Keys = tc.a })
			b := startNode(t, "b", a.GossipAddr(), func(c *Config) { c.Keys = tc.b })
			testkit.Eventually(t, converge, "b ready", b.Ready)
			a.st.Set("from-a", []byte("1"), time.Hour)
			b.st.Set("from-b", []byte("2"), time.Hour)
			testkit.Eventually(t, converge, "both writes on both nodes", func() bool {
				return value(a.st, "from-b") == "2" && value(b.st, "from-a") == "1"
			})
			for _, n := range []*testNode{a, b} {
				if m := n.Status().Members; len(m) != 2 {
					t.Errorf("%s lists %d members, want 2", n.Name(), len(m))
				}
			}
		})
	}
}

// TestClockSkew: with node a's clock 5s ahead of b's, a client that writes
// a session through a, then reads it through b and writes it again there
// (what a web app does on each request), ends with its second write on
// every node: the hybrid clock orders b's write after the a write it saw.
func TestClockSkew(t *testing.T) {
	a := startNodeWith(t, "a", "", nil, &sessiond.Options{Now: func() time.Time { return time.Now().Add(5 * time.Second) }})
	b := startNode(t, "b", a.GossipAddr(), nil)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	for i := range 20 {
		key := fmt.Sprintf("sess:%d", i)
		if err := a.st.Set(key, []byte("first"), time.Hour); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, converge, "the first write on b", func() bool { return value(b.st, key) == "first" })
		if err := b.st.Set(key, []byte("second"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		key := fmt.Sprintf("sess:%d", i)
		for _, n := range []*testNode{a, b} {
			testkit.Eventually(t, converge, key+" = second on "+n.Name(), func() bool { return value(n.st, key) == "second" })
		}
	}
}

// TestJoinByName: a join address may be a DNS name; every address it
// resolves to is tried.
func TestJoinByName(t *testing.T) {
	a := startNode(t, "a", "", nil)
	_, port, _ := strings.Cut(a.GossipAddr(), ":")
	b := startNode(t, "b", "localhost:"+port, nil)
	testkit.Eventually(t, converge, "b ready", b.Ready)
	if got := len(a.Status().Members); got != 2 {
		t.Fatalf("a lists %d members after b joined by name, want 2", got)
	}
}

// TestLargeValue: a value larger than the default message bound replicates
// when the stores take it, by stream and by join.
func TestLargeValue(t *testing.T) {
	opts := func() *sessiond.Options { return &sessiond.Options{MaxValueSize: 8 << 20} }
	a := startNodeWith(t, "a", "", nil, opts())
	big := strings.Repeat("x", 6<<20)
	if err := a.st.Set("before", []byte(big), time.Hour); err != nil {
		t.Fatal(err)
	}
	b := startNodeWith(t, "b", a.GossipAddr(), nil, opts())
	testkit.Eventually(t, converge, "b ready", b.Ready)
	if err := a.st.Set("after", []byte(big), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"before", "after"} {
		testkit.Eventually(t, converge, key+" on b", func() bool { return len(value(b.st, key)) == len(big) })
	}
}

// TestSimultaneousStart: two nodes started at once, each joining the
// other, are both syncing; the first by name starts the cluster and the
// other syncs from it.
func TestSimultaneousStart(t *testing.T) {
	ports := make([]string, 2)
	for i := range ports {
		ports[i] = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	}
	nodes := make([]*testNode, 2)
	done := make(chan struct{}, 2)
	for i, name := range []string{"x", "y"} {
		go func() {
			defer func() { done <- struct{}{} }()
			nodes[i] = startNode(t, name, ports[1-i], func(c *Config) { c.BindAddr = ports[i]; c.DataAddr = "127.0.0.1:0" })
		}()
	}
	<-done
	<-done
	if nodes[0] == nil || nodes[1] == nil {
		t.Fatal("a node did not start")
	}
	for _, n := range nodes {
		testkit.Eventually(t, converge, n.Name()+" ready", n.Ready)
	}
	nodes[1].st.Set("k", []byte("v"), 0)
	testkit.Eventually(t, converge, "k on x", func() bool { return value(nodes[0].st, "k") == "v" })
}

// TestStatusWhileStarting: Status may be called while Start runs (the
// binary's HTTP listener is up before the node joins); the race detector
// checks it reads nothing Start is writing.
func TestStatusWhileStarting(t *testing.T) {
	a := startNode(t, "a", "", nil)
	n, err := New(Config{NodeName: "b", BindAddr: "127.0.0.1:0", ClusterName: "test", Join: []string{a.GossipAddr()},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sessiond.Open(&sessiond.Options{NodeID: n.ID(), Replicator: n})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n.Status()
		}
	}()
	if err := n.Start(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	testkit.Eventually(t, converge, "b ready", n.Ready)
	close(stop)
	<-done
	if got := len(n.Status().Members); got != 2 {
		t.Errorf("b sees %d members, want 2", got)
	}
}
