package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
)

// rotatedKey is the key the rotation test changes to (base64 of 24 bytes:
// AES-192 next to testKey's AES-256, which the keyring allows).
const rotatedKey = "m/EFr36CWmE5zdpBHmH9btNzIld+jVE+"

// opLog is what a steadyWrites writer was told: the last acknowledged value
// of each key it wrote, the keys whose last acknowledged operation was a
// delete, and the keys an operation failed on (in flight when a node
// stopped: either outcome is right, so they are not checked).
type opLog struct {
	values    map[string]string
	deleted   map[string]bool
	uncertain map[string]bool
	acked     int
	// surprises are acknowledged writes the node itself no longer had
	// when the writer came back to them: a SET GET or DEL that found
	// another value than the last one acknowledged.
	surprises []string
	ranOut    bool // it stopped at its count, not at stop
}

// steadyWrites writes through the node at addr (a fixed address, so that
// the client reconnects to the node once it is started again), one
// operation every 5ms, at most max, until stop is closed: new keys, and
// among them overwrites (SET ... GET, checking the value it replaces) and
// deletes (checking the key was there) of keys it wrote before.
func steadyWrites(addr, prefix string, max int, stop <-chan struct{}) <-chan *opLog {
	out := make(chan *opLog, 1)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 1})
	go func() {
		defer rdb.Close()
		l := &opLog{values: map[string]string{}, deleted: map[string]bool{}, uncertain: map[string]bool{}}
		defer func() { out <- l }()
		var live []string // acknowledged, not deleted
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := range max {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			key, value, j := fmt.Sprintf("%s:%d", prefix, i), fmt.Sprintf("v%d", i), -1
			var err error
			switch {
			case i%5 == 3 && len(live) > 0:
				j = i % len(live)
				key = live[j]
				var old string
				old, err = rdb.SetArgs(c, key, value, redis.SetArgs{TTL: time.Hour, Get: true}).Result()
				if err == nil && old != l.values[key] || errors.Is(err, redis.Nil) {
					l.surprises = append(l.surprises, fmt.Sprintf("SET %s GET: %q, acknowledged %q", key, old, l.values[key]))
					err = nil
				}
			case i%5 == 4 && len(live) > 0:
				j = 0
				key, value = live[0], ""
				var n int64
				n, err = rdb.Del(c, key).Result()
				if err == nil && n != 1 {
					l.surprises = append(l.surprises, fmt.Sprintf("DEL %s: %d, acknowledged %q", key, n, l.values[key]))
				}
			default:
				err = rdb.Set(c, key, value, time.Hour).Err()
			}
			cancel()
			if j >= 0 { // the key leaves live, and comes back unless deleted
				live = append(live[:j], live[j+1:]...)
			}
			if err != nil {
				l.uncertain[key] = true
				delete(l.values, key)
				delete(l.deleted, key)
				time.Sleep(50 * time.Millisecond) // the node is stopping or starting
				continue
			}
			l.acked++
			if value == "" {
				delete(l.values, key)
				l.deleted[key] = true
				continue
			}
			l.values[key] = value
			live = append(live, key)
		}
		l.ranOut = true
	}()
	return out
}

// withArg returns args with flag's value replaced by value (appended if
// args has no flag).
func withArg(args []string, flag, value string) []string {
	out := withoutArg(args, flag)
	return append(out, flag, value)
}

// withoutArg returns args without flag and its value.
func withoutArg(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag && i+1 < len(args) {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// TestKeyRotationUnderWrites: a three-node cluster, each node with its
// --dir, changes its cluster key by three rolling restarts while clients
// write, overwrite and delete through every node: each node in turn is
// stopped with SIGTERM and started again with the next --cluster-key
// list, [old] → [old,new] → [new,old] → [new] (the middle step from a
// --config file's array), and the next waits until it is ready and every
// node sees all three connected. Every acknowledged
// write is then on every node (and every acknowledged delete on none), no
// node ever refused a peer, and a node with the old key alone can no
// longer join.
func TestKeyRotationUnderWrites(t *testing.T) {
	nodes := startFixedCluster(t, 3, true)
	// Every node lists the others to join, as in production: a node
	// started again must find the cluster whichever it is.
	for i, nd := range nodes {
		var others []string
		for j, o := range nodes {
			if j != i {
				others = append(others, o.Gossip)
			}
		}
		nd.args = withArg(nd.args, "--join", strings.Join(others, ","))
	}
	all := []*node{nodes[0].node, nodes[1].node, nodes[2].node} // every process, for their logs

	stop := make(chan struct{})
	var results []<-chan *opLog
	for _, nd := range nodes {
		results = append(results, steadyWrites(nd.Addr, nd.name, 60_000, stop))
	}
	time.Sleep(time.Second)

	// The middle step comes from a file, as an array; a flag would win
	// over it.
	file := filepath.Join(t.TempDir(), "keys.toml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf("cluster-key = [%q, %q]\n", rotatedKey, testKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name string
		keys int
		args func([]string) []string
	}{
		{"[old new]", 2, func(a []string) []string { return withArg(a, "--cluster-key", testKey+","+rotatedKey) }},
		{"[new old] from the file", 2, func(a []string) []string { return withArg(withoutArg(a, "--cluster-key"), "--config", file) }},
		{"[new]", 1, func(a []string) []string { return withArg(withoutArg(a, "--config"), "--cluster-key", rotatedKey) }},
	} {
		for _, nd := range nodes {
			start := time.Now()
			if err := nd.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			nd.waitGone(t, 15*time.Second)
			nd.args = step.args(nd.args)
			nd.restart(t)
			all = append(all, nd.node)
			for _, o := range nodes {
				o.waitReady(t, 3)
			}
			if l := logLines(nd.Log(), 0, "msg=listening proto=gossip", fmt.Sprintf("keys=%d", step.keys)); len(l) != 1 {
				t.Fatalf("%s, started with %s, does not log %d keys:\n%s", nd.name, step.name, step.keys, nd.Log())
			}
			t.Logf("%s restarted with %s, ready and rejoined after %v", nd.name, step.name, time.Since(start).Round(time.Millisecond))
		}
	}
	time.Sleep(time.Second)
	close(stop)

	values, deleted := map[string]string{}, map[string]bool{}
	acked, uncertain := 0, 0
	for i, r := range results {
		l := <-r
		if l.ranOut {
			t.Errorf("%s's writer ran out of operations before the rotation ended: the load did not cover it", nodes[i].name)
		}
		for _, s := range l.surprises {
			t.Errorf("%s: %s", nodes[i].name, s)
		}
		for k, v := range l.values {
			values[k] = v
		}
		for k := range l.deleted {
			deleted[k] = true
		}
		acked += l.acked
		uncertain += len(l.uncertain)
	}
	t.Logf("%d operations acknowledged: %d keys live, %d deleted; %d keys left unchecked (an operation in flight failed)",
		acked, len(values), len(deleted), uncertain)
	if len(values) < 1000 || len(deleted) < 200 {
		t.Fatalf("only %d keys written and %d deleted: the load did not run", len(values), len(deleted))
	}
	var gone []string
	for k := range deleted {
		gone = append(gone, k)
	}
	converged(t, 30*time.Second, nodes[0].node, nodes[1].node, nodes[2].node)
	for _, nd := range nodes {
		if m := nd.info(t, "cluster")["cluster_members"]; m != "3" {
			t.Errorf("%s: %s members, want 3", nd.name, m)
		}
		if wrong := wrongValues(t, nd.node, values); len(wrong) > 0 {
			t.Errorf("%s: %d of %d acknowledged writes missing or wrong, e.g. %s", nd.name, len(wrong), len(values), wrong[0])
		}
		if back := present(t, nd.node, gone); len(back) > 0 {
			t.Errorf("%s: %d of %d acknowledged deletes came back, e.g. %s", nd.name, len(back), len(gone), back[0])
		}
	}
	// Neighbouring steps always talk: no process refused a peer, in
	// gossip or in a data stream.
	for _, nd := range all {
		for _, refusal := range []string{"refused a data connection", "could decrypt", "failed authentication"} {
			if lines := logLines(nd.Log(), 0, refusal); len(lines) > 0 {
				t.Errorf("%s (pid %d) logged %d refusals during the rotation, e.g.\n%s", nd.name, nd.Pid(), len(lines), lines[0])
			}
		}
	}

	// The old key opens nothing now.
	refusedJoin(t, nodes[0].Gossip, testKey)
	if m := nodes[0].info(t, "cluster")["cluster_members"]; m != "3" {
		t.Errorf("after a node with the dropped key tried to join, n0 lists %s members, want 3", m)
	}
}

// refusedJoin starts a node with keys that tries to join through gossip
// address join, and checks that it exits 1 saying the keys do not match.
func refusedJoin(t *testing.T, join, keys string) {
	t.Helper()
	out, err := exec.Command(harness.Binary(t), "--addr", "127.0.0.1:0", "--cluster-addr", "127.0.0.1:0", "--node-name", "intruder",
		"--cluster-name", "compat", "--cluster-key", keys, "--join", join, "--join-timeout", "3s").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("a node with keys %s: %v, want exit status 1:\n%s", keys, err, out)
	}
	if want := "no cluster key in common: each node's first key must be among every other node's keys"; !strings.Contains(string(out), want) {
		t.Errorf("a node with keys %s: output without %q:\n%s", keys, want, out)
	}
	if !strings.Contains(string(out), "(--cluster-key)") {
		t.Errorf("a node with keys %s: output does not name --cluster-key:\n%s", keys, out)
	}
}
