package cluster

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
)

func TestDecodeMeta(t *testing.T) {
	v2 := []byte{2, 0x1f, 0x90, 0, 0, 0, 7, 0, 0x40, 0, 0}
	v4 := meta{DataPort: 8080, ID: 7, MaxMsg: 4 << 20, Proto: protoRange{1, 1}, HTTPPort: 9090}.encode()
	v3 := append([]byte{3}, v4[1:15]...) // the release before the HTTP port
	v5 := append([]byte{5}, append(meta{DataPort: 8080, ID: 7, MaxMsg: 4 << 20, Proto: protoRange{1, 2}, HTTPPort: 9090}.encode()[1:], "later fields"...)...)
	for _, tt := range []struct {
		name  string
		b     []byte
		proto protoRange
		http  uint16
		ok    bool
	}{
		{"layout 2, the release before versions", v2, protoRange{1, 1}, 0, true},
		{"layout 3, the release before the HTTP port", v3, protoRange{1, 1}, 0, true},
		{"layout 4", v4, protoRange{1, 1}, 9090, true},
		{"a later layout with fields this one does not know", v5, protoRange{1, 2}, 9090, true},
		{"layout 2 with more bytes", append(v2, 0), protoRange{}, 0, false},
		{"layout 3 cut short", v3[:13], protoRange{}, 0, false},
		{"layout 4 cut short", v4[:16], protoRange{}, 0, false},
		{"layout 1", append([]byte{1}, v2[1:]...), protoRange{}, 0, false},
		{"lowest version 0", append(v3[:11:11], 0, 0, 0, 1), protoRange{}, 0, false},
		{"lowest above highest", append(v3[:11:11], 0, 3, 0, 2), protoRange{}, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := decodeMeta(tt.b)
			if (err == nil) != tt.ok {
				t.Fatalf("decodeMeta: %+v, %v; want ok=%v", m, err, tt.ok)
			}
			if tt.ok && (m.Proto != tt.proto || m.DataPort != 8080 || m.ID != 7 || m.HTTPPort != tt.http) {
				t.Errorf("decodeMeta = %+v", m)
			}
		})
	}
}

func TestHelloVersions(t *testing.T) {
	h := hello{Cluster: "c", Node: "n", ID: 3, Incarnation: 9, Proto: protoRange{1, 2}}
	var got hello
	if err := got.decode(h.append(nil)); err != nil || got != h {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	old := h.append(nil)
	old = old[:len(old)-4] // the release before versions sent no range
	if err := got.decode(old); err != nil || got.Proto != (protoRange{1, 1}) {
		t.Errorf("a hello without versions: %+v, %v; want versions 1 to 1", got, err)
	}
	if err := got.decode(append(h.append(nil), "a later release's fields"...)); err != nil || got != h {
		t.Errorf("a hello with later fields: %+v, %v", got, err)
	}
	if _, err := (protoRange{1, 1}).common("n", protoRange{2, 3}); err == nil || !strings.Contains(err.Error(), "one release at a time") {
		t.Errorf("ranges that do not meet: %v", err)
	}
	if v, err := (protoRange{1, 1}).common("n", protoRange{1, 2}); err != nil || v != 1 {
		t.Errorf("1-1 with 1-2: %d, %v; want 1", v, err)
	}
}

// startLater starts a node that plays one of a later release: it speaks
// data protocol versions proto and appends fields to its metadata that
// this release does not know.
func startLater(t *testing.T, name, join string, proto protoRange) (*testNode, error) {
	t.Helper()
	cfg := Config{NodeName: name, BindAddr: "127.0.0.1:0", ClusterName: "test", RepairInterval: 500 * time.Millisecond,
		JoinTimeout: 3 * time.Second, Join: []string{join},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", name)}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.proto, n.me.Proto, n.metaExtra = proto, proto, []byte("fields of a later release")
	st, err := sessiond.Open(&sessiond.Options{NodeID: n.ID(), Replicator: n})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), st); err != nil {
		st.Close()
		return nil, err
	}
	t.Cleanup(func() {
		n.Close()
		st.Close()
	})
	return &testNode{n, st}, nil
}

// TestLaterReleaseJoins: a node of the next release, which speaks this
// release's data protocol and a newer one, joins a node of this release
// and replicates both ways, as a rolling upgrade needs; one that no
// longer speaks this release's version is refused, saying why.
func TestLaterReleaseJoins(t *testing.T) {
	a := startNode(t, "a", "", nil)
	a.st.Set("before", []byte("1"), 0)
	b, err := startLater(t, "b", a.GossipAddr(), protoRange{1, 2})
	if err != nil {
		t.Fatalf("a node of the next release did not join: %v", err)
	}
	testkit.Eventually(t, converge, "the join sync to the later node", func() bool { return value(b.st, "before") == "1" })
	a.st.Set("from-a", []byte("2"), 0)
	b.st.Set("from-b", []byte("3"), 0)
	testkit.Eventually(t, converge, "a's write on b", func() bool { return value(b.st, "from-a") == "2" })
	testkit.Eventually(t, converge, "b's write on a", func() bool { return value(a.st, "from-b") == "3" })

	_, err = startLater(t, "c", a.GossipAddr(), protoRange{2, 2})
	if err == nil || !strings.Contains(err.Error(), "one release at a time") {
		t.Fatalf("a node two releases on: %v; want it refused, saying to upgrade one release at a time", err)
	}
}
