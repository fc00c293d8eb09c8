package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// netns is a bridge in the root namespace with one network namespace per
// node behind it, each with its own address: a network the test can cut.
type netns struct {
	t      *testing.T
	bridge string
	names  []string // namespace of node i
	addrs  []string // its address
}

// run runs a command, failing the test if it fails.
func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns builds the network for n nodes and removes it when the test
// ends. It needs root; the test is skipped, with a line that says so,
// without it.
func newNetns(t *testing.T, n int) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces (ip netns); CI runs as root")
	}
	harness.Need(t, "ip")
	id := os.Getpid() % 100000
	nw := &netns{t: t, bridge: fmt.Sprintf("sdbr%d", id)}
	subnet := fmt.Sprintf("10.213.%d", id%250)
	run(t, "ip", "link", "add", nw.bridge, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", nw.bridge).Run() })
	run(t, "ip", "addr", "add", subnet+".254/24", "dev", nw.bridge)
	run(t, "ip", "link", "set", nw.bridge, "up")
	for i := range n {
		ns := fmt.Sprintf("sd%d-%d", id, i)
		host, peer := fmt.Sprintf("sdh%d-%d", id, i), fmt.Sprintf("sdn%d-%d", id, i)
		addr := fmt.Sprintf("%s.%d", subnet, i+1)
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
		run(t, "ip", "link", "set", host, "master", nw.bridge, "up")
		run(t, "ip", "link", "set", peer, "netns", ns)
		run(t, "ip", "-n", ns, "addr", "add", addr+"/24", "dev", peer)
		run(t, "ip", "-n", ns, "link", "set", peer, "up")
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		nw.names, nw.addrs = append(nw.names, ns), append(nw.addrs, addr)
	}
	return nw
}

// cut makes node i and node j unable to reach each other (both ways),
// while both still reach the test through the bridge.
func (nw *netns) cut(i, j int) {
	run(nw.t, "ip", "-n", nw.names[i], "route", "add", "blackhole", nw.addrs[j]+"/32")
	run(nw.t, "ip", "-n", nw.names[j], "route", "add", "blackhole", nw.addrs[i]+"/32")
}

// heal undoes cut.
func (nw *netns) heal(i, j int) {
	run(nw.t, "ip", "-n", nw.names[i], "route", "del", "blackhole", nw.addrs[j]+"/32")
	run(nw.t, "ip", "-n", nw.names[j], "route", "del", "blackhole", nw.addrs[i]+"/32")
}

// startIn starts node i in its namespace.
func (nw *netns) startIn(t *testing.T, i int, join string) *node {
	t.Helper()
	a, name := nw.addrs[i], fmt.Sprintf("n%d", i)
	// The test's clients reach the node from the bridge's address, which
	// protected mode would refuse: no password here.
	args := append([]string{"--addr", a + ":6379", "--protected-mode", "no"}, nodeArgs(name, a+":7946", join)...)
	return asNode(t, name, harness.StartWrapped(t, []string{"ip", "netns", "exec", nw.names[i]}, args...))
}

// TestPartitionHeals: a 2|1 partition under writes on both sides; once it
// heals, every key converges to its highest version (the later write)
// within seconds, with no one acting.
func TestPartitionHeals(t *testing.T) {
	nw := newNetns(t, 3)
	nodes := []*node{nw.startIn(t, 0, "")}
	for i := 1; i < 3; i++ {
		nodes = append(nodes, nw.startIn(t, i, nodes[0].Gossip))
	}
	for _, nd := range nodes {
		nd.waitReady(t, 3)
	}
	c := ctx(t)
	a, b, lone := nodes[0], nodes[1], nodes[2]
	if err := a.rdb.Set(c, "destroyed", "session", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "destroyed on the lone node", func() bool { return lone.rdb.Exists(c, "destroyed").Val() == 1 })

	nw.cut(0, 2)
	nw.cut(1, 2)
	// Long enough for each side to declare the other failed, so that the
	// sides must find each other again after the heal.
	for _, side := range [][2]*node{{a, lone}, {lone, a}} {
		testkit.Eventually(t, 30*time.Second, side[0].name+" declares "+side[1].name+" failed", func() bool {
			for k, v := range side[0].info(t, "cluster") {
				if strings.HasPrefix(k, "member") && strings.Contains(v, "name="+side[1].name+",") {
					return strings.Contains(v, "state=failed")
				}
			}
			return true // dropped from the list
		})
	}
	// The partition holds: a write on one side does not reach the other.
	a.rdb.Set(c, "probe", "a", time.Hour)
	time.Sleep(time.Second)
	if lone.rdb.Exists(c, "probe").Val() != 0 {
		t.Fatal("a write crossed the partition")
	}
	const keys = 100
	// Both sides write every key; the later write of each must win.
	for i := range keys {
		a.rdb.Set(c, fmt.Sprintf("k%d", i), "a-first", time.Hour)
	}
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < keys; i += 2 {
		lone.rdb.Set(c, fmt.Sprintf("k%d", i), "lone-later", time.Hour)
	}
	time.Sleep(20 * time.Millisecond)
	for i := 1; i < keys; i += 2 {
		b.rdb.Set(c, fmt.Sprintf("k%d", i), "b-later", time.Hour)
	}
	for i := range keys {
		lone.rdb.Set(c, fmt.Sprintf("lone:%d", i), "v", time.Hour)
		b.rdb.Set(c, fmt.Sprintf("majority:%d", i), "v", time.Hour)
	}
	lone.rdb.Del(c, "destroyed")

	nw.heal(0, 2)
	nw.heal(1, 2)
	healed := time.Now()
	converged(t, 20*time.Second, nodes...)
	t.Logf("converged %v after the partition healed", time.Since(healed).Round(10*time.Millisecond))
	for _, nd := range nodes {
		for i := range keys {
			want := "lone-later"
			if i%2 == 1 {
				want = "b-later"
			}
			if got := nd.rdb.Get(c, fmt.Sprintf("k%d", i)).Val(); got != want {
				t.Fatalf("%s: k%d = %q, want the later write %q", nd.name, i, got, want)
			}
		}
		if n := nd.rdb.DBSize(c).Val(); n != 3*keys+1 { // k*, lone:*, majority:*, probe
			t.Errorf("%s holds %d keys, want %d", nd.name, n, 3*keys+1)
		}
		if nd.rdb.Exists(c, "destroyed").Val() != 0 {
			t.Errorf("%s: the session destroyed on the lone side came back", nd.name)
		}
	}
}
