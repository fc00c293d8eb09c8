package server_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// fixedCluster is a cluster whose INFO cluster fields are fixed: what the
// server does with them is under test, not the node (compat/cluster runs
// real nodes).
type fixedCluster struct{ fields [][2]string }

func (f fixedCluster) WaitReplicas(int, time.Duration, <-chan struct{}) int { return 0 }
func (f fixedCluster) Info() [][2]string                                    { return f.fields }
func (f fixedCluster) Digest() (string, error)                              { return "", nil }

// infoSection returns the fields of one INFO section, in order.
func infoSection(t *testing.T, c *client, section string) [][2]string {
	t.Helper()
	r := c.do("INFO", section)
	text, ok := r.V.(string)
	if !ok {
		t.Fatalf("INFO %s: got %q, want a bulk string", section, r.Raw)
	}
	var fields [][2]string
	for _, line := range strings.Split(strings.TrimSpace(text), "\r\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		fields = append(fields, [2]string{name, value})
	}
	return fields
}

// TestRole: a single server, and a cluster node alike, is a master with no
// replicas at offset 0, as a Redis 7 master without replicas answers: a
// cluster's peers are not replicas (INFO's cluster section lists them).
func TestRole(t *testing.T) {
	const lone = "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n" // redis-server 7.0.15
	c := start(t).dial(t)
	c.expect("+OK\r\n", "SET", "k", "v") // a write moves no offset
	c.expect(lone, "ROLE")
	c.expect("-ERR wrong number of arguments for 'role' command\r\n", "ROLE", "x")

	c = startServer(t, server.Config{Cluster: fixedCluster{}}, nil).dial(t)
	c.expect("+OK\r\n", "SET", "k", "v")
	c.expect(lone, "ROLE")
}

// TestInfoReplication: INFO replication has the fields of a Redis 7 master
// without replicas (redis-server 7.0.15 on a fresh start, after writes),
// in its order, on a single server and a cluster node alike; master_replid
// is 40 hex digits, the same for the server's life, new at each start.
func TestInfoReplication(t *testing.T) {
	want := [][2]string{
		{"role", "master"},
		{"connected_slaves", "0"},
		{"master_failover_state", "no-failover"},
		{"master_replid", ""},
		{"master_replid2", "0000000000000000000000000000000000000000"},
		{"master_repl_offset", "0"},
		{"second_repl_offset", "-1"},
		{"repl_backlog_active", "0"},
		{"repl_backlog_size", "0"},
		{"repl_backlog_first_byte_offset", "0"},
		{"repl_backlog_histlen", "0"},
	}
	hex40 := regexp.MustCompile(`^[0-9a-f]{40}$`)
	var ids []string
	for _, cfg := range []server.Config{{}, {Cluster: fixedCluster{}}} {
		c := startServer(t, cfg, nil).dial(t)
		c.expect("+OK\r\n", "SET", "k", "v")
		got := infoSection(t, c, "replication")
		if len(got) != len(want) {
			t.Fatalf("INFO replication (cluster %v): %v; want the fields %v", cfg.Cluster != nil, got, want)
		}
		for i, f := range got {
			if f[0] != want[i][0] || (want[i][1] != "" && f[1] != want[i][1]) {
				t.Errorf("INFO replication field %d: %s:%s; want %s:%s", i, f[0], f[1], want[i][0], want[i][1])
			}
		}
		id := got[3][1]
		if !hex40.MatchString(id) {
			t.Errorf("master_replid %q: want 40 hex digits", id)
		}
		if again := infoSection(t, c, "replication")[3][1]; again != id {
			t.Errorf("master_replid changed from %s to %s", id, again)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two servers share the master_replid %s", ids[0])
	}
}

// TestInfoCluster: INFO cluster says cluster_enabled:0 (this is not Redis
// Cluster, whose clients would ask for its slots), followed on a cluster
// node by the node's fields, in the node's order.
func TestInfoCluster(t *testing.T) {
	c := start(t).dial(t)
	if got := infoSection(t, c, "cluster"); len(got) != 1 || got[0] != [2]string{"cluster_enabled", "0"} {
		t.Errorf("INFO cluster on a single server: %v; want cluster_enabled:0 alone", got)
	}
	fields := [][2]string{{"cluster_state", "degraded"}, {"cluster_members_expected", "3"}, {"member0", "name=a,state=alive"}}
	c = startServer(t, server.Config{Cluster: fixedCluster{fields}}, nil).dial(t)
	got := infoSection(t, c, "cluster")
	want := append([][2]string{{"cluster_enabled", "0"}}, fields...)
	if len(got) != len(want) {
		t.Fatalf("INFO cluster on a node: %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("INFO cluster field %d: %v; want %v", i, got[i], want[i])
		}
	}
}
