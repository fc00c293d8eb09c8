package cluster

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// ack is one acknowledged write.
type ack struct {
	key, value string
	at         time.Time
}

// writeLoad writes unique keys through nd until stop is closed, and returns
// the writes the node acknowledged. Failed writes (the node died) are not
// acknowledged and not checked.
func writeLoad(nd *node, prefix string, stop <-chan struct{}) <-chan []ack {
	out := make(chan []ack, 1)
	go func() {
		var acks []ack
		for i := 0; ; i++ {
			select {
			case <-stop:
				out <- acks
				return
			default:
			}
			key, value := fmt.Sprintf("%s:%d", prefix, i), strconv.Itoa(i)
			c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := nd.rdb.Set(c, key, value, time.Hour).Err()
			cancel()
			if err == nil {
				acks = append(acks, ack{key, value, time.Now()})
			}
		}
	}()
	return out
}

// lost returns the acknowledged writes that none of the nodes holds, after
// giving replication a few seconds to finish.
func lost(t *testing.T, acks []ack, nodes ...*node) []ack {
	t.Helper()
	var missing []ack
	deadline := time.Now().Add(5 * time.Second)
	for _, a := range acks {
		for {
			found := false
			for _, nd := range nodes {
				if v, err := nd.rdb.Get(ctx(t), a.key).Result(); err == nil && v == a.value {
					found = true
					break
				}
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				missing = append(missing, a)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return missing
}

// TestKill9SyncReplicas: with --sync-replicas 1, kill -9 of a node under a
// steady write load through every node loses no acknowledged write.
func TestKill9SyncReplicas(t *testing.T) {
	nodes := startCluster(t, 3, "--sync-replicas", "1")
	stop := make(chan struct{})
	var results []<-chan []ack
	for _, nd := range nodes {
		for w := range 2 {
			results = append(results, writeLoad(nd, fmt.Sprintf("%s-w%d", nd.name, w), stop))
		}
	}
	time.Sleep(time.Second)
	victim := nodes[1]
	victim.Cmd.Process.Kill()
	time.Sleep(time.Second)
	close(stop)
	var acks []ack
	for _, r := range results {
		acks = append(acks, <-r...)
	}
	if len(acks) < 100 {
		t.Fatalf("only %d writes acknowledged: the load did not run", len(acks))
	}
	if missing := lost(t, acks, nodes[0], nodes[2]); len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged writes are on no survivor, e.g. %+v", len(missing), len(acks), missing[0])
	}
	t.Logf("%d acknowledged writes, every one on the survivors", len(acks))
}

// TestKill9AsyncLossBounded: without sync replicas, kill -9 of the node
// written to can lose only the writes within its reported replication lag:
// every lost write was acknowledged within the lag (in time) before the
// kill, and there are at most as many as the lag (in records) allowed.
func TestKill9AsyncLossBounded(t *testing.T) {
	nodes := startCluster(t, 3)
	victim := nodes[2]
	stop := make(chan struct{})
	result := writeLoad(victim, "async", stop)
	var mu sync.Mutex
	var maxLagRecords int64
	var maxLag time.Duration
	probeDone := make(chan struct{})
	go func() { // the lag INFO reports, sampled
		defer close(probeDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			f, err := victim.tryInfo("cluster")
			if err != nil {
				return // killed
			}
			for k, v := range f {
				if !strings.HasPrefix(k, "member") || strings.Contains(v, "self=1") {
					continue
				}
				fields := map[string]string{}
				for _, kv := range strings.Split(v, ",") {
					if a, b, ok := strings.Cut(kv, "="); ok {
						fields[a] = b
					}
				}
				recs, _ := strconv.ParseInt(fields["lag_records"], 10, 64)
				ms, _ := strconv.ParseFloat(fields["lag_ms"], 64)
				mu.Lock()
				maxLagRecords = max(maxLagRecords, recs)
				maxLag = max(maxLag, time.Duration(ms*float64(time.Millisecond)))
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	victim.Cmd.Process.Kill()
	killed := time.Now()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	acks := <-result
	<-probeDone
	missing := lost(t, acks, nodes[0], nodes[1])
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d acknowledged, %d lost; reported lag up to %d records, %v", len(acks), len(missing), maxLagRecords, maxLag)
	// The writer is one connection: it has at most one write in flight
	// when the lag is sampled, so the bound allows that one more.
	if int64(len(missing)) > maxLagRecords+1 {
		t.Errorf("%d writes lost, more than the %d records of lag reported", len(missing), maxLagRecords)
	}
	for _, m := range missing {
		if killed.Sub(m.at) > maxLag+100*time.Millisecond {
			t.Errorf("lost %s, acknowledged %v before the kill: longer ago than the reported lag %v", m.key, killed.Sub(m.at), maxLag)
		}
	}
}

// TestStopPastFailureDetection: a node stopped (SIGSTOP) for longer than
// failure detection is dropped by its peers; continued (SIGCONT), it
// rejoins and converges with what was written meanwhile.
func TestStopPastFailureDetection(t *testing.T) {
	nodes := startCluster(t, 3)
	frozen := nodes[2]
	c := ctx(t)
	frozen.Cmd.Process.Signal(syscall.SIGSTOP)
	defer frozen.Cmd.Process.Signal(syscall.SIGCONT)
	testkit.Eventually(t, 30*time.Second, "n0 sees n2 fail", func() bool {
		for k, v := range nodes[0].info(t, "cluster") {
			if strings.HasPrefix(k, "member") && strings.Contains(v, "name=n2,") {
				return strings.Contains(v, "state=failed") || strings.Contains(v, "state=left")
			}
		}
		return true // dropped from the list
	})
	for i := range 2000 {
		if err := nodes[i%2].rdb.Set(c, fmt.Sprintf("while-stopped:%d", i), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	frozen.Cmd.Process.Signal(syscall.SIGCONT)
	frozen.waitReady(t, 3)
	converged(t, 20*time.Second, nodes...)
	if n := frozen.rdb.DBSize(c).Val(); n != 2000 {
		t.Errorf("the node that was stopped holds %d keys, want 2000", n)
	}
}

// TestJoinUnderWrites: a node joins while 200,000 sessions exist and
// writes continue; it reports ready only when it holds the set, and ends
// with exactly the set its peers hold.
func TestJoinUnderWrites(t *testing.T) {
	nodes := startCluster(t, 2)
	c := ctx(t)
	value := strings.Repeat("s", 200)
	const sessions = 200_000
	for start := 0; start < sessions; start += 1000 {
		p := nodes[start/1000%2].rdb.Pipeline()
		for i := start; i < start+1000; i++ {
			p.Set(c, fmt.Sprintf("sess:%08d", i), value, time.Hour)
		}
		if _, err := p.Exec(c); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	result := writeLoad(nodes[0], "during-join", stop)
	joiner := startNode(t, "n2", nodes[1].Gossip)
	joiner.waitReady(t, 3)
	if n := joiner.rdb.DBSize(c).Val(); n < sessions {
		t.Errorf("ready with %d keys, fewer than the %d sessions present before the join", n, sessions)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	acks := <-result
	converged(t, 20*time.Second, append(nodes, joiner)...)
	want := int64(sessions + len(acks))
	if n := joiner.rdb.DBSize(c).Val(); n != want {
		t.Errorf("the joiner holds %d keys, want %d", n, want)
	}
	if !strings.Contains(joiner.Log(), "join sync done") {
		t.Errorf("the joiner's log has no join sync line:\n%s", joiner.Log())
	}
}

// TestRefusedJoin: a node with other cluster keys, or none, or another
// cluster name, cannot join: it exits with an error that says why, and the
// cluster's members are unchanged. A second node of a taken name too.
func TestRefusedJoin(t *testing.T) {
	nodes := startCluster(t, 2)
	bin := harness.Binary(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"other key", []string{"--node-name", "intruder", "--cluster-key", "b3RoZXIgY29tcGF0IGNsdXN0ZXIgdGVzdCBrZXkhISE="}, "no cluster key in common"},
		{"other keys", []string{"--node-name", "intruder", "--cluster-key", "b3RoZXIgY29tcGF0IGNsdXN0ZXIgdGVzdCBrZXkhISE=,m/EFr36CWmE5zdpBHmH9btNzIld+jVE+"}, "no cluster key in common"},
		{"no key", []string{"--node-name", "intruder"}, "no cluster key in common"},
		{"other cluster name", []string{"--node-name", "intruder", "--cluster-key", testKey, "--cluster-name", "other"}, "could not join"},
		{"taken name", []string{"--node-name", "n1", "--cluster-key", testKey}, "must be unique"},
	} {
		args := append([]string{"--addr", "127.0.0.1:0", "--cluster-addr", "127.0.0.1:0", "--join", nodes[0].Gossip,
			"--join-timeout", "3s", "--cluster-name", "compat"}, tc.args...)
		// The later --cluster-name wins, as flags do.
		out, err := exec.Command(bin, args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%s: sessiond ended with %v, want exit status 1:\n%s", tc.name, err, out)
			continue
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %v, output without %q:\n%s", tc.name, err, tc.want, out)
		}
		if m := nodes[0].info(t, "cluster")["cluster_members"]; m != "2" {
			t.Errorf("%s: the cluster lists %s members after the refused join, want 2", tc.name, m)
		}
	}
}

// TestGracefulLeave: SIGTERM makes a node hand its peers what they have
// not acknowledged and say goodbye: the others drop it at once, well
// before failure detection would, and hold every write it acknowledged.
func TestGracefulLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	leaving := nodes[2]
	stop := make(chan struct{})
	result := writeLoad(leaving, "leaving", stop)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	acks := <-result
	sent := time.Now()
	leaving.Cmd.Process.Signal(syscall.SIGTERM)
	testkit.Eventually(t, 3*time.Second, "n0 drops the node that left", func() bool {
		return nodes[0].info(t, "cluster")["cluster_members"] == "2"
	})
	if d := time.Since(sent); d > 2*time.Second {
		t.Errorf("the leave took %v to be noticed: as long as failure detection", d)
	}
	// The others may drop it before its own log says so: the line comes
	// once the leave is done.
	testkit.Eventually(t, 3*time.Second, "the node's log says it left", func() bool {
		return strings.Contains(leaving.Log(), "left the cluster")
	})
	if missing := lost(t, acks, nodes[0], nodes[1]); len(missing) > 0 {
		t.Fatalf("%d of %d writes the leaving node acknowledged are on no other node", len(missing), len(acks))
	}
}
