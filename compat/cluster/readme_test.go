package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// readmeCluster returns the argument lists of the README's "Run a cluster"
// commands, with every port moved to a free one (a gossip port's data
// port, the one after it, stays the one after it).
func readmeCluster(t *testing.T) (cmds [][]string, ports map[int]int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Run a cluster\n")
	if !ok {
		t.Fatal(`README.md has no "## Run a cluster" section`)
	}
	_, block, _ := strings.Cut(section, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	const prefix = "sessiond "
	ports = map[int]int{}
	addr := regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		line = strings.TrimPrefix(line, "go run ./cmd/") // go run ./cmd/sessiond ... runs the same
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("README cluster command %q does not start with %q", line, prefix)
		}
		line = addr.ReplaceAllStringFunc(line, func(a string) string {
			p, _ := strconv.Atoi(a[len("127.0.0.1:"):])
			if _, ok := ports[p]; !ok {
				ports[p] = freePair(t)
			}
			return fmt.Sprintf("127.0.0.1:%d", ports[p])
		})
		args := strings.Fields(strings.TrimPrefix(line, prefix))
		for i := range args {
			if args[i] == "--dir" && i+1 < len(args) {
				// The README's /tmp directories would outlive the test
				// and be shared between runs.
				args[i+1] = filepath.Join(t.TempDir(), filepath.Base(args[i+1]))
			}
		}
		cmds = append(cmds, args)
	}
	if len(cmds) != 3 {
		t.Fatalf("README shows %d cluster commands, want 3", len(cmds))
	}
	return cmds, ports
}

// freePair returns a free loopback port whose next port is free too.
func freePair(t *testing.T) int {
	t.Helper()
	for range 100 {
		p := testkit.FreePort(t)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no two free ports in a row")
	return 0
}

// The README's three commands make a cluster on one machine; what one node
// takes the others serve; and a node killed and started again with its
// command holds every session when it says it is ready.
func TestReadmeCluster(t *testing.T) {
	cmds, ports := readmeCluster(t)
	var nodes []*node
	for i, args := range cmds {
		s := harness.Start(t, args...)
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		t.Cleanup(func() { rdb.Close() })
		nodes = append(nodes, &node{Server: s, name: fmt.Sprintf("n%d", i+1), rdb: rdb})
	}
	for _, nd := range nodes {
		nd.waitReady(t, 3)
	}
	// `redis-cli -p 6379 set sess:1 hello` then `redis-cli -p 6381 get sess:1`.
	if nodes[0].Addr != fmt.Sprintf("127.0.0.1:%d", ports[6379]) || nodes[2].Addr != fmt.Sprintf("127.0.0.1:%d", ports[6381]) {
		t.Fatalf("the README's nodes listen on %s and %s, not its ports 6379 and 6381", nodes[0].Addr, nodes[2].Addr)
	}
	if err := nodes[0].rdb.Set(ctx(t), "sess:1", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "sess:1 read through the third node", func() bool {
		return nodes[2].rdb.Get(ctx(t), "sess:1").Val() == "hello"
	})

	// Kill the first node, write through the others, start it again.
	nodes[0].Cmd.Process.Kill()
	const sessions = 2000
	for i := range sessions {
		if err := nodes[1+i%2].rdb.Set(ctx(t), fmt.Sprintf("sess:while-down:%d", i), i, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s := harness.Start(t, cmds[0]...)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer rdb.Close()
	back := &node{Server: s, name: "n1", rdb: rdb}
	testkit.Eventually(t, 30*time.Second, "n1 says it is ready again", func() bool {
		return back.info(t, "cluster")["cluster_state"] == "ok"
	})
	if n := rdb.DBSize(ctx(t)).Val(); n != sessions+1 {
		t.Fatalf("n1 holds %d sessions when it says it is ready, want %d", n, sessions+1)
	}
	back.waitReady(t, 3)
	converged(t, 10*time.Second, back, nodes[1], nodes[2])
}
