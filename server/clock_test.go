package server_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// TestOneClock: the store's clock (Options.Now) is the only clock expiry
// reads. Under a fake clock years behind the wall clock, a TTL set over
// RESP and one set over memcached count from the fake time, both
// protocols see them expire when the fake clock passes them, and so does a
// node the writes were replicated to, sharing the clock.
func TestOneClock(t *testing.T) {
	clock := new(testkit.FakeClock) // years behind the wall clock
	opts := func() *sessiond.Options { return &sessiond.Options{Now: clock.Now} }
	ctx := context.Background()
	stA, nodeA, err := cluster.Open(ctx, cluster.Config{NodeName: "a", BindAddr: "127.0.0.1:0", DataAddr: "127.0.0.1:0", Logger: quietLog}, opts())
	if err != nil {
		t.Fatal(err)
	}
	ts := serveStore(t, stA, server.Config{MemcacheAddr: "127.0.0.1:0"})
	t.Cleanup(func() { nodeA.Leave(time.Second) })
	stB, nodeB, err := cluster.Open(ctx, cluster.Config{NodeName: "b", BindAddr: "127.0.0.1:0", DataAddr: "127.0.0.1:0", Join: []string{nodeA.GossipAddr()}, Logger: quietLog}, opts())
	if err != nil {
		t.Fatal(err)
	}
	defer stB.Close()
	defer nodeB.Leave(time.Second)
	testkit.Eventually(t, 10*time.Second, "b has finished joining a", nodeB.Ready)

	c := ts.dial(t)
	mc := dialMC(t, "tcp", mcAddr(t, ts))
	// The clocks a client reads to compute an absolute expiry.
	sec := strconv.FormatInt(clock.Now().Unix(), 10)
	c.expect("*2\r\n$"+strconv.Itoa(len(sec))+"\r\n"+sec+"\r\n$1\r\n0\r\n", "TIME")
	if got := mc.stats("")["time"]; got != sec {
		t.Errorf("memcached's stats time is %s, want the store's clock, %s", got, sec)
	}
	c.expect("+OK\r\n", "SET", "resp", "v", "EX", "100")
	mc.do("set mc 0 100 1\r\nv\r\n", "STORED\r\n")
	at := clock.Now().Add(100 * time.Second).UnixMilli()
	for _, key := range []string{"resp", "mc"} {
		c.expect(":100\r\n", "TTL", key)
		testkit.Eventually(t, 10*time.Second, key+" has reached b", func() bool { _, found, _ := stB.Get(key); return found })
		for name, st := range map[string]*sessiond.Store{"a": stA, "b": stB} {
			if _, it, _, err := st.Lookup(nil, key); err != nil || it.Expires().UnixMilli() != at {
				t.Errorf("%s on %s: expires at %v (%v), want %d, 100s after the fake clock", key, name, it.Expires(), err, at)
			}
		}
	}

	clock.Advance(99 * time.Second)
	c.expect(":1\r\n", "TTL", "mc")
	mc.do("get resp\r\n", "VALUE resp 0 1\r\nv\r\nEND\r\n")
	clock.Advance(2 * time.Second)
	for _, key := range []string{"resp", "mc"} {
		c.expect("$-1\r\n", "GET", key)
		c.expect(":-2\r\n", "TTL", key)
		mc.do("get "+key+"\r\n", "END\r\n")
		if _, found, err := stB.Get(key); found || err != nil {
			t.Errorf("%s on b after the fake clock passed its expiry: found %v, %v", key, found, err)
		}
	}
}
