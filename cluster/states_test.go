package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// member returns the member name as n lists it, and whether it does.
func member(n *testNode, name string) (Member, bool) {
	for _, m := range n.Status().Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// stateOf returns the state n shows for member name, "absent" if it does
// not list it.
func stateOf(n *testNode, name string) string {
	if m, ok := member(n, name); ok {
		return m.State
	}
	return "absent"
}

// TestMemberStates: with real memberlist instances on loopback, a member
// that stops answering (its node closed without a goodbye) shows suspect
// on the others whose probe of it failed, then failed (and the test fails
// if a memberlist release stops logging the line suspectLine reads), and stays listed as
// failed; one that comes back under its name is alive again; a member
// that leaves shows left. The cluster's state follows: ok with the three
// expected members alive, degraded with one missing, fail when a node is
// alone.
func TestMemberStates(t *testing.T) {
	expect3 := func(c *Config) { c.Expect = 3 }
	a := startNode(t, "a", "", expect3)
	b := startNode(t, "b", a.GossipAddr(), expect3)
	c := startNode(t, "c", a.GossipAddr(), expect3)
	for _, n := range []*testNode{a, b, c} {
		testkit.Eventually(t, converge, n.Name()+" sees three alive members, ok", func() bool {
			s := n.Status()
			return s.Count(StateAlive) == 3 && s.Health() == HealthOK
		})
	}

	watchA := testkit.Changes(5*time.Millisecond, func() string { return stateOf(a, "c") })
	watchB := testkit.Changes(5*time.Millisecond, func() string { return stateOf(b, "c") })
	cGossip, cData := c.GossipAddr(), c.data.Addr().String()
	c.Close() // no goodbye: the others' probes fail
	// memberlist's suspicion lasts 3 s to 18 s on loopback (fewer the
	// more members confirm it), on a loaded machine more.
	for _, n := range []*testNode{a, b} {
		testkit.Eventually(t, 40*time.Second, n.Name()+" shows c failed", func() bool {
			m, ok := member(n, "c")
			return ok && m.State == StateFailed
		})
	}
	suspected := false
	for name, states := range map[string][]string{"a": watchA(), "b": watchB()} {
		// Each shows alive, then failed; suspect between the two if its
		// own probe failed before the other's gossip declared c failed.
		s := strings.Join(states, " ")
		if s != "alive suspect failed" && s != "alive failed" {
			t.Errorf("%s showed c %s; want alive, suspect, failed", name, s)
		}
		suspected = suspected || s == "alive suspect failed"
	}
	if !suspected {
		t.Error("neither a nor b showed c suspect")
	}
	m, _ := member(a, "c")
	if m.Gossip != cGossip || m.Data != cData || time.Since(m.Since) > time.Minute || m.Connected {
		t.Errorf("a lists the failed c as %+v; want its addresses %s and %s, since when it failed", m, cGossip, cData)
	}
	if s := a.Status(); s.Health() != HealthDegraded || s.Count(StateAlive) != 2 || s.Count(StateFailed) != 1 {
		t.Errorf("with c failed a says %s, %d alive, %d failed; want degraded, 2 and 1", s.Health(), s.Count(StateAlive), s.Count(StateFailed))
	}

	// c back under its name (a restart): alive, the cluster ok again.
	c = startNode(t, "c", a.GossipAddr(), expect3)
	for _, n := range []*testNode{a, b, c} {
		testkit.Eventually(t, converge, n.Name()+" shows c back: three alive, ok", func() bool {
			s := n.Status()
			return s.Count(StateAlive) == 3 && s.Health() == HealthOK
		})
	}

	// b leaves: left, not failed, at once.
	if err := b.Leave(4 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testNode{a, c} {
		testkit.Eventually(t, converge, n.Name()+" shows b left", func() bool {
			m, ok := member(n, "b")
			return ok && m.State == StateLeft
		})
	}
	if s := a.Status(); s.Health() != HealthDegraded || s.Count(StateLeft) != 1 {
		t.Errorf("with b gone a says %s, %d left; want degraded, 1", s.Health(), s.Count(StateLeft))
	}
	// c leaves too: a is alone while three are expected.
	if err := c.Leave(4 * time.Second); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "a alone says fail", func() bool {
		m, ok := member(a, "c")
		return ok && m.State == StateLeft && a.Status().Health() == HealthFail
	})
}

// TestHealth: the cluster's state from a node's status.
func TestHealth(t *testing.T) {
	members := func(states ...string) []Member {
		ms := []Member{{Name: "self", State: StateAlive, Self: true}}
		for _, s := range states {
			ms = append(ms, Member{State: s})
		}
		return ms
	}
	for _, tc := range []struct {
		name string
		s    Status
		want string
	}{
		{"a lone node", Status{Ready: true, Expected: 1, Members: members()}, HealthOK},
		{"all three alive", Status{Ready: true, Expected: 3, Members: members(StateAlive, StateAlive)}, HealthOK},
		{"more alive than expected", Status{Ready: true, Expected: 2, Members: members(StateAlive, StateAlive, StateFailed)}, HealthOK},
		{"syncing", Status{Ready: false, Expected: 3, Members: members(StateAlive, StateAlive)}, HealthFail},
		{"one suspect", Status{Ready: true, Expected: 3, Members: members(StateAlive, StateSuspect)}, HealthDegraded},
		{"one failed", Status{Ready: true, Expected: 3, Members: members(StateAlive, StateFailed)}, HealthDegraded},
		{"one left", Status{Ready: true, Expected: 3, Members: members(StateAlive, StateLeft)}, HealthDegraded},
		{"one never came", Status{Ready: true, Expected: 3, Members: members(StateAlive)}, HealthDegraded},
		{"alone of three", Status{Ready: true, Expected: 3, Members: members(StateFailed, StateSuspect)}, HealthFail},
		{"fewer peers than sync replicas", Status{Ready: true, Expected: 3, SyncReplicas: 2, Members: members(StateAlive, StateFailed)}, HealthFail},
		{"as many peers as sync replicas", Status{Ready: true, Expected: 3, SyncReplicas: 1, Members: members(StateAlive, StateFailed)}, HealthDegraded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Health(); got != tc.want {
				t.Errorf("Health = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestExpectFromJoin: the members expected by default are the distinct
// join addresses that are not this node's own, plus this node.
func TestExpectFromJoin(t *testing.T) {
	three := []string{"127.0.0.1:7946", "127.0.0.1:7948", "127.0.0.1:7950"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want int
	}{
		{"no join", Config{BindAddr: "127.0.0.1:7946"}, 1},
		{"the README's list, itself included", Config{BindAddr: "127.0.0.1:7948", Join: three}, 3},
		{"a list of the others", Config{BindAddr: "127.0.0.1:7952", Join: three}, 4},
		{"repeats count once", Config{BindAddr: "127.0.0.1:7952", Join: []string{"127.0.0.1:7946", "127.0.0.1:7946"}}, 2},
		{"the default port", Config{BindAddr: "127.0.0.1:7952", Join: []string{"10.0.0.1", "10.0.0.1:7946"}, Insecure: true}, 2},
		{"its advertised address", Config{BindAddr: "0.0.0.0:7946", AdvertiseAddr: "10.0.0.2:7946", Insecure: true, Join: []string{"10.0.0.1:7946", "10.0.0.2:7946"}}, 2},
		{"any address of its own when bound to all", Config{BindAddr: "0.0.0.0:7946", Insecure: true, Join: []string{"127.0.0.1:7946", "10.255.0.1:7946"}}, 2},
		{"its name, as a StatefulSet's pods are named", Config{NodeName: "sessiond-1", BindAddr: "0.0.0.0:7946", Insecure: true,
			Join: []string{"sessiond-0.sessiond:7946", "sessiond-1.sessiond:7946", "sessiond-2.sessiond:7946"}}, 3},
		{"set", Config{BindAddr: "127.0.0.1:7948", Join: three, Expect: 5}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			if c.Expect != tc.want {
				t.Errorf("Expect = %d, want %d", c.Expect, tc.want)
			}
		})
	}
	if _, err := (Config{BindAddr: "127.0.0.1:7946", Expect: -1}).withDefaults(); err == nil {
		t.Error("a negative Expect is accepted")
	}
}

// FuzzLeaveNotice: any gossip message decodes without a panic, and a
// notice carries back the name it was made with.
func FuzzLeaveNotice(f *testing.F) {
	f.Add(encodeLeaveNotice("n1"))
	f.Add([]byte("sessiond/leaving:"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, ok := decodeLeaveNotice(b)
		if !ok {
			return
		}
		if name == "" || len(name) > maxNodeName {
			t.Fatalf("decoded a name of %d bytes", len(name))
		}
		if again, ok := decodeLeaveNotice(encodeLeaveNotice(name)); !ok || again != name {
			t.Fatalf("%q decodes as %q, %v", name, again, ok)
		}
	})
}
