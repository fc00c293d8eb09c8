package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// lag measures replication lag under a paced write load.
func (b *bench) lag(ctx context.Context, w io.Writer) error {
	nodes, err := b.cluster(ctx, 3)
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	b.logf("lag: %d probes under %d writes/s", b.o.lagProbes, b.o.lagRate)

	// The background load: 4 connections per node, each paced.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	const perNode = 4
	interval := time.Duration(float64(time.Second) * perNode * 3 / float64(max(b.o.lagRate, 1)))
	value := strings.Repeat("v", 512)
	errc := make(chan error, 3*perNode+1)
	for i, s := range nodes {
		for j := range perNode {
			c, err := dial(s.Addr)
			if err != nil {
				return err
			}
			defer c.Close()
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := time.Now()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, _, err := c.do("SET", fmt.Sprintf("load:%d:%d:%d", i, j, k%10000), value, "EX", "3600"); err != nil {
						errc <- err
						return
					}
					written.Add(1)
					next = next.Add(interval)
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
				}
			}()
		}
	}
	// The probes: write through one node, read through the next.
	var lags []time.Duration
	var clients [3]*client
	for i, s := range nodes {
		if clients[i], err = dial(s.Addr); err != nil {
			return err
		}
		defer clients[i].Close()
	}
	time.Sleep(500 * time.Millisecond) // the load settles
	start, w0 := time.Now(), written.Load()
	for i := range b.o.lagProbes {
		src, dst := clients[i%3], clients[(i+1)%3]
		key := "probe:" + strconv.Itoa(i)
		if _, _, err := src.do("SET", key, "x", "EX", "3600"); err != nil {
			return err
		}
		t0 := time.Now()
		for {
			_, ok, err := dst.do("GET", key)
			if err != nil {
				return err
			}
			if ok {
				break
			}
			if time.Since(t0) > 10*time.Second {
				return fmt.Errorf("probe %s not replicated within 10s", key)
			}
		}
		lags = append(lags, time.Since(t0))
		time.Sleep(2 * time.Millisecond)
	}
	rate := float64(written.Load()-w0) / time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("load: %w", err)
	default:
	}
	slices.Sort(lags)
	q := func(p float64) string {
		return fmt.Sprintf("%.3f", float64(lags[min(len(lags)-1, int(p*float64(len(lags))))])/1e6)
	}
	fmt.Fprintf(w, "### Replication lag\n\n3 nodes on loopback; a paced load of SETs (512-byte values) through all three, at the rate below; %d probes, each a SET through one node followed by GETs through the next until the value is there. Lag is from the SET's reply to the first GET that finds it, so it includes one GET round trip.\n\n", len(lags))
	fmt.Fprintln(w, "| load writes/s (asked) | load writes/s (done) | probes | lag p50 ms | p90 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	fmt.Fprintf(w, "| %d | %.0f | %d | %s | %s | %s | %s |\n\n", b.o.lagRate, rate, len(lags), q(0.5), q(0.9), q(0.99), fmt.Sprintf("%.3f", float64(lags[len(lags)-1])/1e6))
	return nil
}

// throughput compares the write throughput of one node with that of three
// replicating nodes, the load split evenly over them.
func (b *bench) throughput(ctx context.Context, w io.Writer) error {
	type run struct{ one, oneCPU, three, threeCPU float64 }
	var runs []run
	for range b.o.rounds {
		var r run
		single, _, err := b.node(ctx, false, "")
		if err != nil {
			return err
		}
		r.one, r.oneCPU, err = b.writeLoad(ctx, []*target.Server{single})
		single.Stop()
		if err != nil {
			return err
		}
		nodes, err := b.cluster(ctx, 3)
		if err != nil {
			return err
		}
		r.three, r.threeCPU, err = b.writeLoad(ctx, nodes)
		stopAll(nodes)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	fmt.Fprintf(w, "### Write throughput, 3 nodes against 1\n\n%d connections at pipeline %d, SETs of 512-byte values over 100,000 keys for %v after 1s of warm-up; against one sessiond without a cluster, then against a 3-node cluster (asynchronous replication) with the connections split evenly over the nodes, %d round(s) one after the other. Every write is applied on all three nodes.\n\n", b.o.conns, b.o.pipeline, b.o.duration, b.o.rounds)
	fmt.Fprintln(w, "| round | setup | writes/s | ratio to one node | servers' CPU µs per write (all nodes) |")
	fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: |")
	var one, three float64
	for i, r := range runs {
		fmt.Fprintf(w, "| %d | 1 node | %.0f | 1.00× | %.2f |\n", i+1, r.one, r.oneCPU)
		fmt.Fprintf(w, "| %d | 3 nodes | %.0f | %.2f× | %.2f |\n", i+1, r.three, r.three/r.one, r.threeCPU)
		one += r.one
		three += r.three
	}
	fmt.Fprintf(w, "\nOver all rounds: 3 nodes did %.2f× the writes of one.\n\n", three/one)
	return nil
}

// writeLoad runs the SET load against nodes, split evenly, and returns the
// total writes per second and the CPU the server processes spent per write,
// in microseconds.
func (b *bench) writeLoad(ctx context.Context, nodes []*target.Server) (float64, float64, error) {
	var gens []*load.Generator
	defer func() {
		for _, g := range gens {
			g.Close()
		}
	}()
	for i, s := range nodes {
		g, err := load.Dial(ctx, load.Config{Addr: s.Addr, Conns: b.o.conns / len(nodes), Pipeline: b.o.pipeline, Op: load.OpSet, Seed: uint64(i + 1)})
		if err != nil {
			return 0, 0, err
		}
		gens = append(gens, g)
	}
	runAll := func(d time.Duration) ([]load.Result, error) {
		res := make([]load.Result, len(gens))
		errs := make([]error, len(gens))
		var wg sync.WaitGroup
		for i, g := range gens {
			wg.Add(1)
			go func() { defer wg.Done(); res[i], errs[i] = g.Run(ctx, d, 0) }()
		}
		wg.Wait()
		for i, err := range errs {
			if err == nil && res[i].Errors > 0 {
				err = fmt.Errorf("%d error replies, the first: %s", res[i].Errors, res[i].FirstError)
			}
			if err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	cpu := func() (time.Duration, error) {
		var sum time.Duration
		for _, s := range nodes {
			c, err := s.CPU()
			if err != nil {
				return 0, err
			}
			sum += c
		}
		return sum, nil
	}
	if _, err := runAll(time.Second); err != nil {
		return 0, 0, err
	}
	cpu0, err := cpu()
	if err != nil {
		return 0, 0, err
	}
	res, err := runAll(b.o.duration)
	if err != nil {
		return 0, 0, err
	}
	cpu1, err := cpu()
	if err != nil {
		return 0, 0, err
	}
	total, ops := 0.0, int64(0)
	for _, r := range res {
		total += r.OpsPerSec()
		ops += r.Ops
	}
	return total, float64((cpu1 - cpu0).Microseconds()) / float64(max(ops, 1)), nil
}

// join measures how long a node takes to join a node holding
// joinSessions sessions and report ready.
func (b *bench) join(ctx context.Context, w io.Writer) error {
	donor, gossip, err := b.node(ctx, true, "")
	if err != nil {
		return err
	}
	defer donor.Stop()
	g, err := load.Dial(ctx, load.Config{Addr: donor.Addr, Conns: 50, Pipeline: 16, Op: load.OpSession})
	if err != nil {
		return err
	}
	res, err := g.Run(ctx, 0, int64(b.o.joinSessions))
	g.Close()
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("%d error replies, the first: %s", res.Errors, res.FirstError)
	}
	if err != nil {
		return fmt.Errorf("filling the donor: %w", err)
	}
	b.logf("join: donor holds %d sessions; starting the joiner", res.Ops)
	start := time.Now()
	joiner, _, err := b.node(ctx, true, gossip)
	if err != nil {
		return err
	}
	defer joiner.Stop()
	started := time.Since(start)
	if err := waitConnected(ctx, joiner, 2); err != nil {
		return err
	}
	ready := time.Since(start)
	c, err := dial(joiner.Addr)
	if err != nil {
		return err
	}
	keys, _, err := c.do("DBSIZE")
	c.Close()
	if err != nil {
		return err
	}
	took := ""
	for _, line := range strings.Split(joiner.LogTail(200), "\n") {
		if strings.Contains(line, "join sync done") {
			if i := strings.Index(line, "took="); i >= 0 {
				took = strings.Fields(line[i+5:])[0]
			}
		}
	}
	fmt.Fprintf(w, "### Join\n\nA node holding %d sessions (37-byte keys, 512-byte values, a TTL), filled over the protocol; a second node started with --join. \"Ready\" is from starting the joiner's process to its INFO saying cluster_state:ok with its stream to the donor connected; the sync itself is the joiner's own log figure.\n\n", res.Ops)
	fmt.Fprintln(w, "| sessions | joiner's keys when ready | process up and joined | ready | sync (joiner's log) |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: |")
	fmt.Fprintf(w, "| %d | %s | %v | %v | %s |\n\n", res.Ops, keys, started.Round(time.Millisecond), ready.Round(time.Millisecond), took)
	return nil
}
