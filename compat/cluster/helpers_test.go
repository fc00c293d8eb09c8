package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// node is one sessiond process of a test cluster and a client for it.
type node struct {
	*harness.Server
	name string
	rdb  *redis.Client
}

// testKey is the cluster key the tests' nodes share (base64 of 32 bytes).
const testKey = "c2Vzc2lvbmQgY29tcGF0IGNsdXN0ZXIgdGVzdCBrZXk="

// startNode starts a node named name, joining the gossip address join
// unless it is empty, with extra arguments.
func startNode(t *testing.T, name, join string, extra ...string) *node {
	t.Helper()
	s := harness.Start(t, append(nodeArgs(name, "127.0.0.1:0", join), extra...)...)
	return asNode(t, name, s)
}

// nodeArgs is the command line of a test node named name, gossiping on
// clusterAddr and joining join unless it is empty: every test node has the
// cluster's name and key, and a repair round a second.
func nodeArgs(name, clusterAddr, join string) []string {
	args := []string{"--node-name", name, "--cluster-addr", clusterAddr, "--cluster-name", "compat",
		"--cluster-key", testKey, "--cluster-repair-interval", "1s"}
	if join != "" {
		args = append(args, "--join", join)
	}
	return args
}

// asNode returns the started sessiond s as the node named name, with a
// client for it that is closed when the test ends.
func asNode(t *testing.T, name string, s *harness.Server) *node {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 5 * time.Second, PoolSize: 8})
	t.Cleanup(func() { rdb.Close() })
	return &node{Server: s, name: name, rdb: rdb}
}

// startCluster starts n nodes, each joining the first, and waits until
// every one is ready and sees all the others.
func startCluster(t *testing.T, n int, extra ...string) []*node {
	t.Helper()
	nodes := []*node{startNode(t, "n0", "", extra...)}
	for i := 1; i < n; i++ {
		nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), nodes[0].Gossip, extra...))
	}
	for _, nd := range nodes {
		nd.waitReady(t, n)
	}
	return nodes
}

// info returns the fields of one INFO section.
func (nd *node) info(t *testing.T, section string) map[string]string {
	t.Helper()
	fields, err := nd.tryInfo(section)
	if err != nil {
		t.Fatalf("%s: INFO %s: %v", nd.name, section, err)
	}
	return fields
}

// tryInfo is info for a node that may be gone.
func (nd *node) tryInfo(section string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	text, err := nd.rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return testkit.InfoFields(text), nil
}

// waitReady waits until the node's cluster_state is ok and it sees n
// alive members with every peer's stream connected.
func (nd *node) waitReady(t *testing.T, n int) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, nd.name+" ready with all members connected", func() bool {
		f := nd.info(t, "cluster")
		if f["cluster_state"] != "ok" || f["cluster_members"] != strconv.Itoa(n) || f["cluster_members_alive"] != strconv.Itoa(n) {
			return false
		}
		for _, m := range members(f) {
			if m["state"] == "alive" && m["self"] != "1" && m["connected"] != "1" {
				return false
			}
		}
		return true
	})
}

// members returns the member lines of INFO's cluster section, each as its
// fields, in order.
func members(info map[string]string) []map[string]string {
	var ms []map[string]string
	for i := 0; info["member"+strconv.Itoa(i)] != ""; i++ {
		ms = append(ms, memberFields(info["member"+strconv.Itoa(i)]))
	}
	return ms
}

// memberFields splits a member line of INFO's cluster section
// (name=n0,gossip=...,state=alive,...) into its fields.
func memberFields(line string) map[string]string {
	fields := map[string]string{}
	for _, kv := range strings.Split(line, ",") {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	return fields
}

// digest returns DEBUG DIGEST of the node.
func (nd *node) digest(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := nd.rdb.Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		t.Fatalf("%s: DEBUG DIGEST: %v", nd.name, err)
	}
	return d
}

// converged waits until every node has the same digest.
func converged(t *testing.T, d time.Duration, nodes ...*node) {
	t.Helper()
	var last []string
	testkit.Eventually(t, d, "the nodes' digests agree", func() bool {
		last = last[:0]
		for _, nd := range nodes {
			last = append(last, nd.digest(t))
		}
		for _, x := range last {
			if x != last[0] {
				return false
			}
		}
		return true
	})
}

func ctx(t *testing.T) context.Context { return harness.Context(t, 60*time.Second) }
