package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/internal/testkit"
)

// TestReplication: a write through any node is read through every other;
// touch, delete, expiry and FLUSHALL replicate; WAIT counts the replicas.
func TestReplication(t *testing.T) {
	nodes := startCluster(t, 3)
	c := ctx(t)
	for i, src := range nodes {
		key := fmt.Sprintf("sess:%d", i)
		if err := src.rdb.Set(c, key, "from "+src.name, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		for _, dst := range nodes {
			testkit.Eventually(t, 5*time.Second, key+" on "+dst.name, func() bool {
				v, err := dst.rdb.Get(c, key).Result()
				return err == nil && v == "from "+src.name
			})
		}
	}
	if n, err := nodes[0].rdb.Do(c, "WAIT", 2, 1000).Int(); err != nil || n != 2 {
		t.Errorf("WAIT 2 1000 = %d, %v; want 2", n, err)
	}
	checkRole(t, nodes)

	// Touch (EXPIRE) through one node renews the TTL everywhere.
	if err := nodes[1].rdb.Expire(c, "sess:0", 10*time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for _, dst := range nodes {
		testkit.Eventually(t, 5*time.Second, "the touch on "+dst.name, func() bool {
			ttl, err := dst.rdb.TTL(c, "sess:0").Result()
			return err == nil && ttl > 9*time.Minute && ttl <= 10*time.Minute
		})
	}
	// Delete.
	if err := nodes[2].rdb.Del(c, "sess:1").Err(); err != nil {
		t.Fatal(err)
	}
	for _, dst := range nodes {
		testkit.Eventually(t, 5*time.Second, "the delete on "+dst.name, func() bool {
			n, err := dst.rdb.Exists(c, "sess:1").Result()
			return err == nil && n == 0
		})
	}
	// Expiry: every node forgets the key when it expires.
	if err := nodes[0].rdb.Set(c, "short", "v", 1500*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	for _, dst := range nodes {
		testkit.Eventually(t, 5*time.Second, "short on "+dst.name, func() bool { return dst.rdb.Get(c, "short").Val() == "v" })
	}
	time.Sleep(1600 * time.Millisecond)
	for _, dst := range nodes {
		if err := dst.rdb.Get(c, "short").Err(); !errors.Is(err, redis.Nil) {
			t.Errorf("%s: GET of an expired key: %v, want nil", dst.name, err)
		}
	}
	converged(t, 10*time.Second, nodes...)
	// FLUSHALL.
	if err := nodes[1].rdb.FlushAll(c).Err(); err != nil {
		t.Fatal(err)
	}
	for _, dst := range nodes {
		testkit.Eventually(t, 5*time.Second, "the flush on "+dst.name, func() bool { return dst.rdb.DBSize(c).Val() == 0 })
	}
}

// TestDeleteWinsOverStaleWrite: a node frozen while a key is written on
// one node and deleted on another receives both late, in whatever order
// its streams deliver them, and the session stays deleted.
func TestDeleteWinsOverStaleWrite(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, frozen := nodes[0], nodes[1], nodes[2]
	c := ctx(t)
	frozen.Cmd.Process.Signal(syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			frozen.Cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	for i := range 50 {
		key := fmt.Sprintf("sess:%d", i)
		if err := a.rdb.Set(c, key, "logged in", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, key+" on b", func() bool { return b.rdb.Exists(c, key).Val() == 1 })
		if err := b.rdb.Del(c, key).Err(); err != nil {
			t.Fatal(err)
		}
	}
	frozen.Cmd.Process.Signal(syscall.SIGCONT)
	stopped = false
	converged(t, 15*time.Second, nodes...)
	for _, nd := range nodes {
		if n := nd.rdb.DBSize(c).Val(); n != 0 {
			t.Errorf("%s holds %d keys after every session was destroyed", nd.name, n)
		}
	}
}

// TestNoReplicas: a write that --sync-replicas cannot have applied in time
// gets NOREPLICAS over RESP and SERVER_ERROR over memcached's protocol, and
// is kept on the node that took it.
func TestNoReplicas(t *testing.T) {
	nd := startNode(t, "alone", "", "--sync-replicas", "1", "--sync-timeout", "200ms", "--memcache-addr", "127.0.0.1:0")
	c := ctx(t)
	err := nd.rdb.Set(c, "k", "v", time.Hour).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOREPLICAS ") {
		t.Fatalf("SET with no peer to replicate to: %v, want NOREPLICAS", err)
	}
	if v := nd.rdb.Get(c, "k").Val(); v != "v" {
		t.Errorf("GET after the NOREPLICAS write = %q, want v (kept locally)", v)
	}
	conn, err := net.DialTimeout("tcp", nd.MemcacheAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "set m 0 0 1\r\nx\r\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SERVER_ERROR NOREPLICAS ") {
		t.Fatalf("memcached set with no peer: %q, %v; want SERVER_ERROR NOREPLICAS", line, err)
	}
}

// checkRole: ROLE on a node says master with no replicas at offset 0, as
// a Redis master without replicas answers (the peers are not replicas),
// and INFO's cluster section lists each other node at its data address,
// streaming, with nothing of the node's log left to acknowledge (every
// write is acknowledged by WAIT above).
func checkRole(t *testing.T, nodes []*node) {
	t.Helper()
	c := ctx(t)
	role, err := nodes[0].rdb.Do(c, "ROLE").Slice()
	if err != nil || len(role) != 3 || role[0] != "master" || role[1] != int64(0) || len(role[2].([]any)) != 0 {
		t.Fatalf("ROLE = %v, %v; want master, 0 and no replicas", role, err)
	}
	if f := nodes[0].info(t, "replication"); f["role"] != "master" || f["connected_slaves"] != "0" {
		t.Errorf("INFO replication: role %s, connected_slaves %s; want master, 0", f["role"], f["connected_slaves"])
	}
	f := nodes[0].info(t, "cluster")
	var got []string
	for _, m := range members(f) {
		if m["self"] == "0" {
			got = append(got, fmt.Sprintf("%s state=%s connected=%s lag_records=%s", m["data"], m["state"], m["connected"], m["lag_records"]))
		}
	}
	var want []string
	for _, nd := range nodes[1:] {
		want = append(want, nd.Data+" state=alive connected=1 lag_records=0")
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || f["cluster_connected_peers"] != strconv.Itoa(len(want)) {
		t.Errorf("INFO cluster peers %v, cluster_connected_peers %s; want %v", got, f["cluster_connected_peers"], want)
	}
}
