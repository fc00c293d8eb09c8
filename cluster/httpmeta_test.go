package cluster

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"testing"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
)

// TestHTTPAddrs: a node advertises its HTTP port, set before Start or
// after, and every member reads it at the member's gossip host; a node
// that advertises none is absent.
func TestHTTPAddrs(t *testing.T) {
	a := startNode(t, "a", "", nil)
	cfg := Config{NodeName: "b", BindAddr: "127.0.0.1:0", ClusterName: "test", Join: []string{a.GossipAddr()},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AdvertiseHTTP(8082); err != nil {
		t.Fatal(err)
	}
	st, err := sessiond.Open(&sessiond.Options{NodeID: b.ID(), Replicator: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); st.Close() })
	c := startNode(t, "c", a.GossipAddr(), nil)

	want := map[string]string{"b": "127.0.0.1:8082"}
	for _, n := range []*Node{a.Node, b, c.Node} {
		testkit.Eventually(t, converge, "b's HTTP address gossiped", func() bool { return maps.Equal(n.HTTPAddrs(), want) })
	}
	if err := a.AdvertiseHTTP(8081); err != nil {
		t.Fatal(err)
	}
	want["a"] = "127.0.0.1:8081"
	for _, n := range []*Node{a.Node, b, c.Node} {
		testkit.Eventually(t, converge, "a's HTTP address, set after Start, gossiped", func() bool { return maps.Equal(n.HTTPAddrs(), want) })
	}
	if err := a.AdvertiseHTTP(70000); err == nil {
		t.Error("AdvertiseHTTP(70000): no error")
	}
}
