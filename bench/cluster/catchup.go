package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
)

// catchUp measures what catching up a paused node costs the healthy ones:
// a steady write load goes through two nodes of three while the third is
// stopped (SIGSTOP) past failure detection, then continued; the healthy
// nodes' write latency before the pause is set against their latency while
// the third is brought up to date, round after round.
func (b *bench) catchUp(ctx context.Context, w io.Writer) error {
	nodes, err := b.cluster(ctx, 3)
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	healthy, paused := nodes[:2], nodes[2]
	pausedName, err := infoField(ctx, paused, "cluster", "cluster_node")
	if err != nil {
		return err
	}
	var lat ackLog
	stop := make(chan struct{})
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	const conns = 8
	interval := time.Duration(float64(time.Second) * conns / float64(max(b.o.catchUpRate, 1)))
	value := strings.Repeat("v", 512)
	for i := range conns {
		c, err := dial(healthy[i%2].Addr)
		if err != nil {
			return err
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now().Add(time.Duration(i) * interval / conns) // staggered
			for k := 0; ; k++ {
				if d := time.Until(next); d > 0 {
					select {
					case <-stop:
						return
					case <-time.After(d):
					}
				}
				next = next.Add(interval)
				start := time.Now()
				if _, _, err := c.do("SET", fmt.Sprintf("cu:%d:%d", i, k), value, "EX", "3600"); err != nil {
					errc <- err
					return
				}
				lat.add(start, time.Now())
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	b.logf("catch-up: %d writes/s through two nodes; %s paused for %v, %d round(s)", b.o.catchUpRate, pausedName, b.o.catchUpPause, b.o.catchUpRounds)

	type round struct {
		detect, took             time.Duration
		missed                   int
		repaired, applied        int64
		nBefore, nDuring         int
		p50b, p99b, p50c, p99c   time.Duration
		maxBefore, maxDuring     time.Duration
		healthyCPUb, healthyCPUc float64 // µs of the healthy nodes' CPU per write
		pausedCPUc               float64 // µs of the paused node's CPU per missed write, while it caught up
	}
	var rounds []round
	for r := range b.o.catchUpRounds {
		cpuB0 := cpuOf(healthy)
		if err := sleepCtx(ctx, 3*time.Second); err != nil {
			return err
		}
		select {
		case err := <-errc:
			return fmt.Errorf("load: %w", err)
		default:
		}
		var rd round
		repaired0, _ := infoInt(ctx, paused, "cluster_repaired_records")
		applied0, _ := infoInt(ctx, paused, "cluster_applied")
		stopped := time.Now()
		if err := paused.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			return err
		}
		cpuB := cpuOf(healthy) - cpuB0 // the 3 s before
		// Both healthy nodes must declare it failed before it goes on.
		for {
			gone := 0
			for _, s := range healthy {
				if st, err := memberState(ctx, s, pausedName); err == nil && st != "alive" && st != "suspect" {
					gone++
				}
			}
			if gone == len(healthy) && rd.detect == 0 {
				rd.detect = time.Since(stopped)
			}
			if rd.detect > 0 && time.Since(stopped) >= b.o.catchUpPause {
				break
			}
			if time.Since(stopped) > b.o.catchUpPause+30*time.Second {
				paused.Cmd.Process.Signal(syscall.SIGCONT)
				return fmt.Errorf("round %d: the healthy nodes did not declare %s failed within %v", r+1, pausedName, b.o.catchUpPause+30*time.Second)
			}
			time.Sleep(50 * time.Millisecond)
		}
		continued := time.Now()
		written := lat.count(time.Time{}, continued)
		rd.missed = lat.count(stopped, continued)
		cpuC0, pausedCPU0 := cpuOf(healthy), cpuOf(nodes[2:])
		perf := b.recordPerf(r+1, nodes)
		if err := paused.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
			return err
		}
		// Caught up: every key written before SIGCONT is on it (the
		// load's keys are all new, none deleted).
		for {
			n, err := infoKeys(ctx, paused)
			if err == nil && n >= int64(written) {
				break
			}
			if time.Since(continued) > 2*time.Minute {
				return fmt.Errorf("round %d: %s holds %d keys 2 minutes after SIGCONT, want %d", r+1, pausedName, n, written)
			}
			time.Sleep(20 * time.Millisecond)
		}
		rd.took = time.Since(continued)
		end := later(continued.Add(time.Second), time.Now()) // at least a second of latency
		if err := sleepCtx(ctx, time.Until(end)); err != nil {
			return err
		}
		cpuC, pausedCPU := cpuOf(healthy)-cpuC0, cpuOf(nodes[2:])-pausedCPU0
		perf()
		repaired1, _ := infoInt(ctx, paused, "cluster_repaired_records")
		applied1, _ := infoInt(ctx, paused, "cluster_applied")
		rd.repaired, rd.applied = repaired1-repaired0, applied1-applied0
		before := lat.window(stopped.Add(-3*time.Second), stopped)
		during := lat.window(continued, end)
		rd.nBefore, rd.p50b, rd.p99b, rd.maxBefore = len(before), pct(before, 50), pct(before, 99), pct(before, 100)
		rd.nDuring, rd.p50c, rd.p99c, rd.maxDuring = len(during), pct(during, 50), pct(during, 99), pct(during, 100)
		rd.healthyCPUb = float64(cpuB.Microseconds()) / float64(max(len(before), 1))
		rd.healthyCPUc = float64(cpuC.Microseconds()) / float64(max(len(during), 1))
		rd.pausedCPUc = float64(pausedCPU.Microseconds()) / float64(max(rd.missed, 1))
		b.logf("catch-up round %d: missed %d writes, caught up in %v, p99 %v before, %v during (%.2fx)", r+1, rd.missed,
			rd.took.Round(time.Millisecond), rd.p99b, rd.p99c, float64(rd.p99c)/float64(max(rd.p99b, 1)))
		rounds = append(rounds, rd)
	}

	fmt.Fprintf(w, "### Catching up a paused node\n\n3 nodes on loopback; a steady load of %d SETs/s (512-byte values, new keys) through two of them over %d connections, one write per round trip. Each round: 3s of load, then the third node is stopped (SIGSTOP) for %v and until both others declare it failed, then continued (SIGCONT); it is caught up once it holds every key written before SIGCONT. The healthy nodes' write latency is set against the 3s before the pause during the catch-up (from SIGCONT until caught up, at least 1s). Repaired is what the paused node's repair rounds exchanged (INFO cluster_repaired_records), applied what it applied from its peers in all (streams and repair, cluster_applied). CPU is the nodes' utime+stime over each window.\n\n",
		b.o.catchUpRate, conns, b.o.catchUpPause)
	fmt.Fprintln(w, "| round | declared failed after | writes missed | caught up in | repaired | applied | p50 µs before | during | p99 µs before | during | p99 during/before | max µs before | during | healthy CPU µs/write before | during | paused node's CPU µs per missed write |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var ratios []float64
	for i, rd := range rounds {
		ratio := float64(rd.p99c) / float64(max(rd.p99b, 1))
		ratios = append(ratios, ratio)
		fmt.Fprintf(w, "| %d | %v | %d | %v | %d | %d | %d | %d | %d | %d | %.2f× | %d | %d | %.1f | %.1f | %.1f |\n", i+1,
			rd.detect.Round(100*time.Millisecond), rd.missed, rd.took.Round(time.Millisecond), rd.repaired, rd.applied,
			rd.p50b.Microseconds(), rd.p50c.Microseconds(), rd.p99b.Microseconds(), rd.p99c.Microseconds(), ratio,
			rd.maxBefore.Microseconds(), rd.maxDuring.Microseconds(), rd.healthyCPUb, rd.healthyCPUc, rd.pausedCPUc)
	}
	slices.Sort(ratios)
	fmt.Fprintf(w, "\n- Goal: the healthy nodes' write p99 during a catch-up ≤ 2× before: %.2f× (median of %d rounds) — %s.\n\n",
		ratios[len(ratios)/2], len(ratios), map[bool]string{true: "met", false: "**missed**"}[ratios[len(ratios)/2] <= 2])
	return nil
}

// ackLog records when each write was sent and acknowledged, safe for
// concurrent use.
type ackLog struct {
	mu  sync.Mutex
	obs []ack
}

type ack struct{ sent, at time.Time }

func (l *ackLog) add(sent, at time.Time) {
	l.mu.Lock()
	l.obs = append(l.obs, ack{sent, at})
	l.mu.Unlock()
}

// window returns the latencies, sorted, of the writes acknowledged in
// [from, to).
func (l *ackLog) window(from, to time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ds []time.Duration
	for _, o := range l.obs {
		if !o.at.Before(from) && o.at.Before(to) {
			ds = append(ds, o.at.Sub(o.sent))
		}
	}
	slices.Sort(ds)
	return ds
}

// count returns how many writes were acknowledged in [from, to).
func (l *ackLog) count(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.obs {
		if !o.at.Before(from) && o.at.Before(to) {
			n++
		}
	}
	return n
}

// pct returns the p-th percentile of sorted durations (100: the largest).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)*p/100, len(ds)-1)]
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// cpuOf returns the servers' CPU time so far, summed.
func cpuOf(servers []*target.Server) time.Duration {
	var sum time.Duration
	for _, s := range servers {
		if d, err := s.CPU(); err == nil {
			sum += d
		}
	}
	return sum
}

// infoField returns a field of an INFO section.
func infoField(ctx context.Context, s *target.Server, section, field string) (string, error) {
	text, err := infoText(ctx, s, section)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

// infoInt returns an integer field of INFO cluster.
func infoInt(ctx context.Context, s *target.Server, field string) (int64, error) {
	v, err := infoField(ctx, s, "cluster", field)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// infoKeys returns the keys the server holds (INFO keyspace).
func infoKeys(ctx context.Context, s *target.Server) (int64, error) {
	v, err := infoField(ctx, s, "keyspace", "db0")
	if err != nil {
		return 0, err
	}
	keys, _, _ := strings.Cut(strings.TrimPrefix(v, "keys="), ",")
	return strconv.ParseInt(keys, 10, 64)
}

// memberState returns the state s's INFO cluster gives the member name, or
// "gone" if it lists no such member.
func memberState(ctx context.Context, s *target.Server, name string) (string, error) {
	text, err := infoText(ctx, s, "cluster")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "member") && strings.Contains(line, "name="+name+",") {
			for _, kv := range strings.Split(strings.TrimSpace(line), ",") {
				if v, ok := strings.CutPrefix(kv, "state="); ok {
					return v, nil
				}
			}
		}
	}
	return "gone", nil
}

// recordPerf starts `perf record -g` on every node for 1.5 s, if
// -catchup-perf names a directory, and returns a function that waits for
// the recordings.
func (b *bench) recordPerf(round int, nodes []*target.Server) (wait func()) {
	if b.o.catchUpPerf == "" {
		return func() {}
	}
	var cmds []*exec.Cmd
	for i, s := range nodes {
		out := filepath.Join(b.o.catchUpPerf, fmt.Sprintf("round%d-node%d.data", round, i))
		c := exec.Command("perf", "record", "-g", "-o", out, "-p", strconv.Itoa(s.Cmd.Process.Pid), "--", "sleep", "1.5")
		if err := c.Start(); err != nil {
			b.logf("perf record: %v", err)
			continue
		}
		cmds = append(cmds, c)
	}
	time.Sleep(100 * time.Millisecond) // perf attaches
	return func() {
		for _, c := range cmds {
			c.Wait()
		}
	}
}
