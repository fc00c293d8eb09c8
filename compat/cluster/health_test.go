package cluster

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// TestClusterHealth: three nodes started with --cluster-expect 3 say
// cluster_state:ok. One stopped (SIGSTOP) shows suspect on the others once
// their probes fail, then failed, and they say degraded; killed (SIGKILL)
// it stays listed as failed; started again under its name, it is alive and
// the cluster ok again.
func TestClusterHealth(t *testing.T) {
	nodes := startCluster(t, 3, "--cluster-expect", "3")
	for _, nd := range nodes {
		f := nd.info(t, "cluster")
		if f["cluster_state"] != "ok" || f["cluster_members_expected"] != "3" || f["cluster_members_alive"] != "3" || f["cluster_ready"] != "1" {
			t.Fatalf("%s: cluster_state %s, expected %s, alive %s, ready %s; want ok, 3, 3, 1",
				nd.name, f["cluster_state"], f["cluster_members_expected"], f["cluster_members_alive"], f["cluster_ready"])
		}
	}

	victim := nodes[2]
	// The states n0 and n1 show for n2, in order.
	watch := make([]func() []string, 2)
	for i, nd := range nodes[:2] {
		watch[i] = testkit.Changes(20*time.Millisecond, func() string {
			f, err := nd.tryInfo("cluster")
			if err != nil {
				return "no answer"
			}
			for _, m := range members(f) {
				if m["name"] == victim.name {
					return m["state"]
				}
			}
			return "absent"
		})
	}
	victim.Cmd.Process.Signal(syscall.SIGSTOP)
	defer victim.Cmd.Process.Signal(syscall.SIGCONT)
	for _, nd := range nodes[:2] {
		testkit.Eventually(t, 40*time.Second, nd.name+" shows n2 failed, degraded", func() bool {
			f := nd.info(t, "cluster")
			return f["cluster_state"] == "degraded" && f["cluster_members_failed"] == "1" && f["cluster_members_alive"] == "2"
		})
	}
	seen := [][]string{watch[0](), watch[1]()}
	t.Logf("the states n0 and n1 showed for n2: %v", seen)
	suspected := false
	for i, states := range seen {
		// Each shows alive, then failed; suspect between the two if its
		// own probe failed before the other's gossip declared n2 failed.
		var answered []string // a slow INFO on a loaded machine says nothing of n2
		for _, st := range states {
			if st != "no answer" && (len(answered) == 0 || answered[len(answered)-1] != st) {
				answered = append(answered, st)
			}
		}
		s := strings.Join(answered, " ")
		if s != "alive suspect failed" && s != "alive failed" {
			t.Errorf("%s showed n2 %s; want alive, suspect, failed", nodes[i].name, s)
		}
		suspected = suspected || s == "alive suspect failed"
	}
	if !suspected {
		t.Errorf("neither n0 nor n1 showed n2 suspect: %v", seen)
	}

	victim.Cmd.Process.Kill() // stopped: SIGKILL ends it all the same
	victim.waitGone(t, 10*time.Second)
	f := nodes[0].info(t, "cluster")
	var line map[string]string
	for _, m := range members(f) {
		if m["name"] == victim.name {
			line = m
		}
	}
	if line["state"] != "failed" || line["gossip"] != victim.Gossip || line["data"] != victim.Data || line["connected"] != "0" {
		t.Errorf("n0 lists the killed n2 as %v; want failed at %s and %s, not connected", line, victim.Gossip, victim.Data)
	}
	if secs, err := strconv.Atoi(line["state_seconds"]); err != nil || secs > 60 {
		t.Errorf("n2 failed %q seconds ago; want the time since it was declared failed", line["state_seconds"])
	}

	back := startNode(t, victim.name, nodes[0].Gossip, "--cluster-expect", "3")
	for _, nd := range []*node{nodes[0], nodes[1], back} {
		nd.waitReady(t, 3)
		if f := nd.info(t, "cluster"); f["cluster_members_failed"] != "0" {
			t.Errorf("%s still counts %s failed members with n2 back", nd.name, f["cluster_members_failed"])
		}
	}
}

// TestClusterAlone: a node that expects peers and has none says fail; a
// graceful stop (SIGTERM) shows left, not failed, on the others.
func TestClusterAlone(t *testing.T) {
	nodes := startCluster(t, 2, "--cluster-expect", "2")
	nodes[1].Cmd.Process.Signal(syscall.SIGTERM)
	nodes[1].waitGone(t, 15*time.Second)
	testkit.Eventually(t, 10*time.Second, "n0 shows n1 left, fail", func() bool {
		f := nodes[0].info(t, "cluster")
		ms := members(f)
		return f["cluster_state"] == "fail" && f["cluster_members_left"] == "1" && len(ms) == 2 && ms[1]["state"] == "left"
	})
}

// TestReplicationAsRedis: ROLE and INFO replication on a cluster node
// answer as redis-server, a master without replicas, does: the same fields
// in the same order with the same values, but for master_replid (random,
// 40 hex digits, on both) and repl_backlog_size (Redis's configured
// backlog, which a master allocates only once a replica connects; sessiond
// has none).
func TestReplicationAsRedis(t *testing.T) {
	nodes := startCluster(t, 2)
	rs := harness.StartRedis(t)
	ref := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer ref.Close()
	c := ctx(t)
	for _, r := range []*redis.Client{ref, nodes[0].rdb} {
		if err := r.Set(c, "sess:1", "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	roleOf := func(r *redis.Client) string {
		v, err := r.Do(c, "ROLE").Slice()
		if err != nil {
			t.Fatal(err)
		}
		return fmtSlice(v)
	}
	if got, want := roleOf(nodes[0].rdb), roleOf(ref); got != want {
		t.Errorf("ROLE: %s; redis-server: %s", got, want)
	}
	lines := func(r *redis.Client) []string {
		text, err := r.Info(c, "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(text), "\r\n")
	}
	got, want := lines(nodes[0].rdb), lines(ref)
	hex40 := regexp.MustCompile(`^master_replid:[0-9a-f]{40}$`)
	if len(got) != len(want) {
		t.Fatalf("INFO replication:\n%s\nredis-server:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		switch name, _, _ := strings.Cut(want[i], ":"); name {
		case "master_replid":
			if !hex40.MatchString(got[i]) || !hex40.MatchString(want[i]) {
				t.Errorf("%s; redis-server %s: want 40 hex digits", got[i], want[i])
			}
		case "repl_backlog_size":
			if got[i] != "repl_backlog_size:0" {
				t.Errorf("%s; want repl_backlog_size:0 (no backlog)", got[i])
			}
		default:
			if got[i] != want[i] {
				t.Errorf("INFO replication line %d: %s; redis-server: %s", i, got[i], want[i])
			}
		}
	}
}

// fmtSlice renders a reply as text, nested arrays in brackets.
func fmtSlice(v []any) string {
	var b strings.Builder
	b.WriteString("[")
	for i, e := range v {
		if i > 0 {
			b.WriteString(" ")
		}
		switch e := e.(type) {
		case []any:
			b.WriteString(fmtSlice(e))
		case string:
			b.WriteString(e)
		case int64:
			b.WriteString(strconv.FormatInt(e, 10))
		default:
			b.WriteString("?")
		}
	}
	b.WriteString("]")
	return b.String()
}
