package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// A node with fixed ports and the arguments it was started with, so that it
// can be started again with the same command line (and so the same --dir,
// addresses and name), as an operator restarts a node.
type fixedNode struct {
	*node
	args []string
}

// startFixedNode starts a node named name on fixed loopback ports, with
// its data directory dir (none if empty), joining join unless it is empty.
func startFixedNode(t *testing.T, name, join, dir string, extra ...string) *fixedNode {
	t.Helper()
	gossip := freePair(t) // gossip on it, data on the next port (the default)
	addr := testkit.FreePort(t)
	for addr == gossip || addr == gossip+1 {
		addr = testkit.FreePort(t)
	}
	args := append([]string{"--addr", fmt.Sprintf("127.0.0.1:%d", addr)}, nodeArgs(name, fmt.Sprintf("127.0.0.1:%d", gossip), join)...)
	if dir != "" {
		args = append(args, "--dir", dir)
	}
	args = append(args, extra...)
	fn := &fixedNode{args: args}
	fn.node = fixedStart(t, name, args)
	return fn
}

// fixedStart runs sessiond with args and returns it as node name.
func fixedStart(t *testing.T, name string, args []string) *node {
	t.Helper()
	return asNode(t, name, harness.Start(t, args...))
}

// restart starts the node again with the command line it was first
// started with. The process must be gone.
func (fn *fixedNode) restart(t *testing.T) {
	t.Helper()
	fn.node = fixedStart(t, fn.name, fn.args)
}

// startFixedCluster starts n fixed nodes, each with its own directory
// (when withDir), n1... joining n0, and waits until all are ready.
func startFixedCluster(t *testing.T, n int, withDir bool, extra ...string) []*fixedNode {
	t.Helper()
	var nodes []*fixedNode
	for i := range n {
		dir := ""
		if withDir {
			dir = t.TempDir()
		}
		join := ""
		if i > 0 {
			join = nodes[0].Gossip
		}
		nodes = append(nodes, startFixedNode(t, fmt.Sprintf("n%d", i), join, dir, extra...))
	}
	for _, nd := range nodes {
		nd.waitReady(t, n)
	}
	return nodes
}

// waitGone waits until the node's process has exited and been reaped (its
// ports and the lock of its directory are free then).
func (nd *node) waitGone(t *testing.T, d time.Duration) {
	t.Helper()
	pid := nd.Pid()
	testkit.Eventually(t, d, nd.name+"'s process (pid "+strconv.Itoa(pid)+") is gone", func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	})
}

// kill9 kills the node's process with SIGKILL and waits until it is gone.
func (nd *node) kill9(t *testing.T) {
	t.Helper()
	if err := nd.Cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 %s: %v", nd.name, err)
	}
	nd.waitGone(t, 10*time.Second)
}

// waitState waits until the node's INFO cluster says cluster_state:ok,
// tolerating errors while it starts.
func (nd *node) waitStateOK(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testkit.Eventually(t, d, nd.name+" reports cluster_state:ok", func() bool {
		f, err := nd.tryInfo("cluster")
		return err == nil && f["cluster_state"] == "ok"
	})
	return time.Since(start)
}

// memberState returns the state INFO cluster f gives member name
// ("alive", "suspect", "failed", "left"), or "" if it is not listed.
func memberState(f map[string]string, name string) string {
	for k, v := range f {
		if !strings.HasPrefix(k, "member") {
			continue
		}
		fields := map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(kv, "="); ok {
				fields[a] = b
			}
		}
		if fields["name"] == name {
			return fields["state"]
		}
	}
	return ""
}

// infoInt returns an integer field of INFO cluster.
func infoInt(t *testing.T, nd *node, field string) int64 {
	t.Helper()
	v, ok := nd.info(t, "cluster")[field]
	if !ok {
		t.Fatalf("%s: INFO cluster has no %s", nd.name, field)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s: INFO cluster %s:%q: %v", nd.name, field, v, err)
	}
	return n
}

// dbsize returns DBSIZE of the node.
func (nd *node) dbsize(t *testing.T) int64 {
	t.Helper()
	n, err := nd.rdb.DBSize(ctx(t)).Result()
	if err != nil {
		t.Fatalf("%s: DBSIZE: %v", nd.name, err)
	}
	return n
}

// wrongValues returns the keys of want whose value on nd is not the one
// wanted (absent included), reading in pipelined batches.
func wrongValues(t *testing.T, nd *node, want map[string]string) []string {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var wrong []string
	for start := 0; start < len(keys); start += 1000 {
		batch := keys[start:min(start+1000, len(keys))]
		p := nd.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, k := range batch {
			cmds[i] = p.Get(ctx(t), k)
		}
		if _, err := p.Exec(ctx(t)); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("%s: reading %d keys: %v", nd.name, len(batch), err)
		}
		for i, c := range cmds {
			if v, err := c.Result(); err != nil || v != want[batch[i]] {
				wrong = append(wrong, batch[i])
			}
		}
	}
	return wrong
}

// present returns the keys that exist on nd.
func present(t *testing.T, nd *node, keys []string) []string {
	t.Helper()
	var found []string
	for start := 0; start < len(keys); start += 1000 {
		batch := keys[start:min(start+1000, len(keys))]
		p := nd.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(batch))
		for i, k := range batch {
			cmds[i] = p.Exists(ctx(t), k)
		}
		if _, err := p.Exec(ctx(t)); err != nil {
			t.Fatalf("%s: EXISTS of %d keys: %v", nd.name, len(batch), err)
		}
		for i, c := range cmds {
			if c.Val() != 0 {
				found = append(found, batch[i])
			}
		}
	}
	return found
}

// logInts returns the integer values of field in the node's log lines
// (from byte offset from on) whose message is msg.
func logInts(log string, from int, msg, field string) []int64 {
	re := regexp.MustCompile(regexp.QuoteMeta(field) + `=(\d+)`)
	var out []int64
	for _, line := range strings.Split(log[min(from, len(log)):], "\n") {
		if !strings.Contains(line, `msg="`+msg+`"`) {
			continue
		}
		if m := re.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			out = append(out, n)
		}
	}
	return out
}

// logLines returns the node's log lines (from byte offset from on) that
// contain every one of parts.
func logLines(log string, from int, parts ...string) []string {
	var out []string
	for _, line := range strings.Split(log[min(from, len(log)):], "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

// TestRestartWithDirCatchesUpByDifference: a node killed (kill -9) and
// started again with its --dir holds exactly its peers' set when it first
// reports cluster_state:ok (the sessions written and deleted while it was
// down included), and it got there by difference: it took about what it
// missed, not the whole set again.
func TestRestartWithDirCatchesUpByDifference(t *testing.T) {
	nodes := startFixedCluster(t, 3, true)
	c := ctx(t)
	value := strings.Repeat("v", 100)
	const before, while, deletes = 20_000, 1_000, 50
	for start := 0; start < before; start += 1000 {
		p := nodes[start/1000%3].rdb.Pipeline()
		for i := start; i < start+1000; i++ {
			p.Set(c, fmt.Sprintf("sess:%06d", i), value, time.Hour)
		}
		if _, err := p.Exec(c); err != nil {
			t.Fatal(err)
		}
	}
	converged(t, 20*time.Second, nodes[0].node, nodes[1].node, nodes[2].node)

	down := nodes[2]
	down.kill9(t)
	// While it is down: new sessions, changed ones, and deleted ones,
	// through both of the others.
	for i := range while {
		if err := nodes[i%2].rdb.Set(c, fmt.Sprintf("sess:while-down:%d", i), i, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var deleted []string
	for i := range deletes {
		k := fmt.Sprintf("sess:%06d", i*97)
		if n, err := nodes[i%2].rdb.Del(c, k).Result(); err != nil || n != 1 {
			t.Fatalf("DEL %s through %s: %d, %v", k, nodes[i%2].name, n, err)
		}
		deleted = append(deleted, k)
	}
	converged(t, 20*time.Second, nodes[0].node, nodes[1].node)
	changes := while + deletes
	want := nodes[0].dbsize(t)
	if want != before+while-deletes {
		t.Fatalf("the live nodes hold %d keys, want %d", want, before+while-deletes)
	}

	down.restart(t)
	took := down.waitStateOK(t, 30*time.Second)
	// What it holds when it first says it is ready.
	got := down.dbsize(t)
	gone := present(t, down.node, deleted)
	applied := infoInt(t, down.node, "cluster_applied")
	repaired := infoInt(t, down.node, "cluster_repaired_records")
	log := down.Log()
	exchanged := logInts(log, 0, "caught up by difference: ready", "records_exchanged")
	loaded := logInts(log, 0, "sessiond: loaded the data directory", "keys")
	t.Logf("restarted %s: cluster_state:ok after %v; loaded %v keys from its dir; DBSIZE %d (others %d); "+
		"records_exchanged %v; INFO cluster_applied %d, cluster_repaired_records %d; %d changes were made while it was down",
		down.name, took.Round(time.Millisecond), loaded, got, want, exchanged, applied, repaired, changes)

	if len(loaded) != 1 || loaded[0] != before {
		t.Errorf("the restarted node's log says it loaded %v keys from its --dir, want [%d]", loaded, before)
	}
	if got != want {
		t.Errorf("at cluster_state:ok the restarted node holds %d keys, its peers %d", got, want)
	}
	if len(gone) > 0 {
		t.Errorf("at cluster_state:ok the restarted node still holds %d of the %d sessions deleted while it was down, e.g. %s",
			len(gone), len(deleted), gone[0])
	}
	if len(exchanged) != 1 {
		t.Fatalf("the restarted node's log has %d \"caught up by difference: ready\" lines with records_exchanged, want 1", len(exchanged))
	}
	if exchanged[0] > 3*int64(changes) {
		t.Errorf("the catch-up exchanged %d records for the %d changes made while the node was down (more than 3x): not a catch-up by difference",
			exchanged[0], changes)
	}
	// Every record it applied, by any path (repair rounds and the peers'
	// streams: INFO cluster_applied counts both), must be about what it
	// missed, not the 21,000.
	if applied > 3*int64(changes) {
		t.Errorf("the restarted node applied %d records from its peers (INFO cluster_applied) for the %d changes made while it was down",
			applied, changes)
	}
	if repaired > 3*int64(changes) {
		t.Errorf("the restarted node's repair rounds exchanged %d records (INFO cluster_repaired_records) for the %d changes made while it was down",
			repaired, changes)
	}
	down.waitReady(t, 3)
	converged(t, 20*time.Second, nodes[0].node, nodes[1].node, down.node)
}

// checker writes through one node, and records what the node acknowledged:
// writes of unique keys, and deletes of some of those. A write or delete
// that failed (the node died) is uncertain: neither outcome is checked.
type checker struct {
	values    map[string]string // acknowledged writes not deleted since
	deleted   []string          // acknowledged deletes
	uncertain int
}

// checkedLoad writes unique keys through nd, and every fifth write deletes
// an earlier key, until stop is closed, the node fails, or max writes.
func checkedLoad(nd *node, prefix string, max int, stop <-chan struct{}) <-chan *checker {
	out := make(chan *checker, 1)
	go func() {
		ck := &checker{values: map[string]string{}}
		var live []string
		defer func() { out <- ck }()
		for i := 0; i < max; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if i%5 == 4 && len(live) > 0 {
				k := live[0]
				live = live[1:]
				err := nd.rdb.Del(c, k).Err()
				cancel()
				delete(ck.values, k)
				if err != nil {
					ck.uncertain++
					return
				}
				ck.deleted = append(ck.deleted, k)
				continue
			}
			key, value := fmt.Sprintf("%s:%d", prefix, i), strconv.Itoa(i)
			err := nd.rdb.Set(c, key, value, time.Hour).Err()
			cancel()
			if err != nil {
				ck.uncertain++
				return
			}
			ck.values[key] = value
			live = append(live, key)
		}
	}()
	return out
}

// TestFullClusterRestartAlways: the whole cluster killed at once (kill -9
// of all three processes, as close as a process-level test gets to the
// rack losing power) with --appendfsync always, under writes and deletes
// through every node, and started again: every acknowledged write is
// readable on every node, and every acknowledged delete stays deleted.
func TestFullClusterRestartAlways(t *testing.T) {
	nodes := startFixedCluster(t, 3, true, "--appendfsync", "always")
	stop := make(chan struct{})
	var results []<-chan *checker
	for _, nd := range nodes {
		for w := range 2 {
			results = append(results, checkedLoad(nd.node, fmt.Sprintf("%s-w%d", nd.name, w), 20_000, stop))
		}
	}
	time.Sleep(1500 * time.Millisecond)
	// All three at once, under load.
	for _, nd := range nodes {
		syscall.Kill(nd.Pid(), syscall.SIGKILL)
	}
	close(stop)
	for _, nd := range nodes {
		nd.waitGone(t, 10*time.Second)
	}
	values := map[string]string{}
	var deleted []string
	uncertain := 0
	for _, r := range results {
		ck := <-r
		for k, v := range ck.values {
			values[k] = v
		}
		deleted = append(deleted, ck.deleted...)
		uncertain += ck.uncertain
	}
	t.Logf("before the kill: %d acknowledged writes live, %d acknowledged deletes, %d writes in flight (not checked)",
		len(values), len(deleted), uncertain)
	if len(values) < 300 || len(deleted) < 50 {
		t.Fatalf("only %d writes and %d deletes acknowledged: the load did not run", len(values), len(deleted))
	}

	start := time.Now()
	for _, nd := range nodes { // n0 first: the others join it
		nd.restart(t)
	}
	for _, nd := range nodes {
		nd.waitStateOK(t, 30*time.Second)
	}
	t.Logf("all three restarted and cluster_state:ok after %v", time.Since(start).Round(time.Millisecond))
	for _, nd := range nodes {
		nd.waitReady(t, 3)
	}
	converged(t, 30*time.Second, nodes[0].node, nodes[1].node, nodes[2].node)
	t.Logf("converged %v after the restart", time.Since(start).Round(time.Millisecond))
	for _, nd := range nodes {
		if wrong := wrongValues(t, nd.node, values); len(wrong) > 0 {
			t.Errorf("%s: %d of %d acknowledged writes missing or wrong after the restart, e.g. %s", nd.name, len(wrong), len(values), wrong[0])
		}
		if back := present(t, nd.node, deleted); len(back) > 0 {
			t.Errorf("%s: %d of %d acknowledged deletes came back after the restart, e.g. %s", nd.name, len(back), len(deleted), back[0])
		}
	}
}

// TestStaleDirIsSetAside: a node whose --dir is older than --tombstone-ttl
// sets it aside (DIR/stale.*) and joins afresh, so a session deleted while
// it was down, whose tombstone its peer has dropped since, does not come
// back on either node, even after repair rounds.
func TestStaleDirIsSetAside(t *testing.T) {
	const ttl = 3 * time.Second
	extra := []string{"--tombstone-ttl", ttl.String(), "--cluster-repair-interval", "500ms"}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startFixedNode(t, "n0", "", dirA, extra...)
	b := startFixedNode(t, "n1", a.Gossip, dirB, extra...)
	a.waitReady(t, 2)
	b.waitReady(t, 2)
	c := ctx(t)
	// k has no expiry: its tombstone lives --tombstone-ttl, and a stale
	// copy of it would never expire by itself.
	if err := a.rdb.Set(c, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.rdb.Set(c, "kept", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "k and kept replicated to n1", func() bool {
		return b.rdb.Get(c, "k").Val() == "before" && b.rdb.Get(c, "kept").Val() == "yes"
	})

	b.Cmd.Process.Signal(syscall.SIGTERM)
	b.waitGone(t, 15*time.Second)
	testkit.Eventually(t, 5*time.Second, "n0 drops n1, which left", func() bool {
		return a.info(t, "cluster")["cluster_members"] == "1"
	})
	if n, err := a.rdb.Del(c, "k").Result(); err != nil || n != 1 {
		t.Fatalf("DEL k through n0: %d, %v", n, err)
	}
	deletedAt := time.Now()
	// The tombstone expires ttl after the delete; reclaiming takes about
	// a second more. n1's newest change is older still.
	time.Sleep(ttl + 2*time.Second)

	b.restart(t)
	b.waitStateOK(t, 30*time.Second)
	b.waitReady(t, 2)
	t.Logf("n1 restarted %v after the delete, ready", time.Since(deletedAt).Round(time.Millisecond))
	check := func(when string) {
		for _, nd := range []*fixedNode{a, b} {
			v, err := nd.rdb.Get(c, "k").Result()
			if !errors.Is(err, redis.Nil) {
				t.Errorf("%s: the session deleted while n1 was down came back on %s: GET k = %q, %v", when, nd.name, v, err)
			}
			if v, err := nd.rdb.Get(c, "kept").Result(); err != nil || v != "yes" {
				t.Errorf("%s: GET kept on %s = %q, %v; want \"yes\"", when, nd.name, v, err)
			}
		}
	}
	check("at ready")
	time.Sleep(1500 * time.Millisecond) // three repair intervals
	check("after repair rounds")
	if lines := logLines(b.Log(), 0, "set aside"); len(lines) == 0 {
		t.Errorf("n1's log does not say its directory was set aside")
	}
	stale, _ := filepath.Glob(filepath.Join(dirB, "stale.*"))
	if len(stale) != 1 {
		t.Fatalf("%s holds %d stale.* directories, want 1: %v", dirB, len(stale), stale)
	}
	moved, _ := os.ReadDir(stale[0])
	var names []string
	for _, e := range moved {
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		t.Errorf("%s is empty: the stale files were not moved into it", stale[0])
	}
	t.Logf("set aside into %s: %v", filepath.Base(stale[0]), names)
	if lines := logLines(b.Log(), 0, "caught up by difference"); len(lines) > 0 {
		t.Errorf("n1 set its directory aside but caught up by difference from it: %s", lines[0])
	}
}

// latencies is a list of write latencies, safe for concurrent use.
type latencies struct {
	mu  sync.Mutex
	obs []latency
}

type latency struct {
	at time.Time // when the write was acknowledged
	d  time.Duration
}

func (l *latencies) add(at time.Time, d time.Duration) {
	l.mu.Lock()
	l.obs = append(l.obs, latency{at, d})
	l.mu.Unlock()
}

// window returns the count and the 50th and 99th percentiles of the
// latencies of writes acknowledged in [from, to).
func (l *latencies) window(from, to time.Time) (n int, p50, p99 time.Duration) {
	l.mu.Lock()
	var ds []time.Duration
	for _, o := range l.obs {
		if !o.at.Before(from) && o.at.Before(to) {
			ds = append(ds, o.d)
		}
	}
	l.mu.Unlock()
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return len(ds), ds[len(ds)/2], ds[min(len(ds)*99/100, len(ds)-1)]
}
