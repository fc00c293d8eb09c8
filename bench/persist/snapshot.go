package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
	"github.com/sessiond/sessiond/bench/report"
)

// The snapshot phase: a server holding -sessions sessions takes a snapshot
// (BGSAVE: sessiond's compaction in the process, Redis's fork) under a
// steady write load, first paced at -snap-rate for latency and memory,
// then flat out for throughput. Each load rewrites the stored sessions in
// order, as applications update sessions, so the data stays its size and
// a fork copies the pages the writes touch.

const (
	// slice is the length of one load run: the figures during a snapshot
	// are those of the slices run between BGSAVE and its end.
	slice = 200 * time.Millisecond
	// memEvery is how often the memory of the server and its children is
	// sampled, through the whole phase, so the sampling costs the runs
	// without a snapshot what it costs those with one.
	memEvery = 50 * time.Millisecond
	// snapPipeline is the steady load's pipeline depth: one request per
	// round trip, as a web application writes a session.
	snapPipeline = 1
)

// sliceSum is a series of load runs added up.
type sliceSum struct {
	slices   int
	ops      int64
	elapsed  time.Duration
	errors   int64
	firstErr string
	latency  load.Histogram
	cpu      time.Duration // the server's and its reaped children's
}

func (s *sliceSum) add(r *load.Result) {
	s.slices++
	s.ops += r.Ops
	s.elapsed += r.Elapsed
	s.errors += r.Errors
	if s.firstErr == "" {
		s.firstErr = r.FirstError
	}
	s.latency.Merge(&r.Latency)
}

func (s *sliceSum) opsPerSec() float64 { return float64(s.ops) / max(s.elapsed.Seconds(), 1e-9) }

// cpuPerOp returns the server's CPU per write in microseconds.
func (s *sliceSum) cpuPerOp() float64 {
	return float64(s.cpu.Nanoseconds()) / 1e3 / float64(max(s.ops, 1))
}

// snapshotCPU estimates the CPU the snapshot itself took: the server's
// (and its children's) CPU during it, less what the writes it served
// would have cost at the rate before it.
func (r *snapRun) snapshotCPU() time.Duration {
	return r.during.cpu - time.Duration(float64(r.base.cpu)*float64(r.during.ops)/float64(max(r.base.ops, 1)))
}

// snapRun is one snapshot under load and the load before it.
type snapRun struct {
	base, during sliceSum
	// begin is when the load before the snapshot began, saved and ended
	// when BGSAVE was sent and when INFO said the snapshot was done.
	begin, saved, ended time.Time
}

// took returns how long the snapshot took.
func (r *snapRun) took() time.Duration { return r.ended.Sub(r.saved) }

// snapResult is what the phase measured on one server.
type snapResult struct {
	server    string
	keys      int64
	fill      load.Result
	memBefore int64 // mean anonymous memory of the server during the paced baseline
	memSwing  int64 // the baseline's highest sample over its mean
	memPeak   int64 // the highest sample (server and children) during the paced snapshot
	cow       int64 // Redis's rdb_last_cow_size of the paced snapshot; -1 for sessiond
	paced     snapRun
	flat      snapRun
}

func (b *bench) snapshotPhase(ctx context.Context, w io.Writer) (bool, error) {
	var rs []*snapResult
	for _, name := range b.o.servers {
		r, err := b.snapshotServer(ctx, name)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		rs = append(rs, r)
	}
	return b.printSnapshot(w, rs), nil
}

func (b *bench) snapshotServer(ctx context.Context, name string) (*snapResult, error) {
	s, err := b.startFresh(ctx, name, everysec)
	if err != nil {
		return nil, err
	}
	defer s.stopRemove()
	r := &snapResult{server: name, cow: -1}
	b.logf("snapshot: %s: storing %d sessions", name, b.o.sessions)
	if r.fill, err = b.fill(ctx, s, b.o.sessions); err != nil {
		return nil, err
	}
	// Let a second of fsync and the allocator settle before the baseline.
	sleep(ctx, 2*time.Second)
	if r.keys, err = dbsize(ctx, s); err != nil {
		return nil, err
	}

	mem := startSampler(s.Pid(), memEvery)
	defer mem.stop()

	b.logf("snapshot: %s: %v at %s writes/s, then BGSAVE", name, b.o.snapBase, report.Thousands(b.o.snapRate))
	r.paced, err = b.snapshotUnderLoad(ctx, s, b.o.snapRate)
	if err != nil {
		return nil, err
	}
	before := mem.window(r.paced.begin, r.paced.saved)
	during := mem.window(r.paced.saved, r.paced.ended)
	if len(during) == 0 {
		// A snapshot shorter than the sampling interval: the first
		// sample after it began.
		if after := mem.window(r.paced.saved, time.Now()); len(after) > 0 {
			during = after[:1]
		}
	}
	if len(before) == 0 || len(during) == 0 {
		return nil, errors.New("no memory samples (are /proc/PID/status and smaps_rollup readable?)")
	}
	var sum int64
	var top int64
	for _, m := range before {
		sum += m.anon
		top = max(top, m.anon)
	}
	r.memBefore = sum / int64(len(before))
	r.memSwing = top - r.memBefore
	for _, m := range during {
		r.memPeak = max(r.memPeak, m.anon)
	}
	if name == target.Redis {
		if m, err := infoOf(ctx, s, "persistence"); err == nil {
			r.cow, _ = infoInt(m, "rdb_last_cow_size")
		}
	}

	b.logf("snapshot: %s: %v flat out, then BGSAVE", name, b.o.snapBase)
	if r.flat, err = b.snapshotUnderLoad(ctx, s, 0); err != nil {
		return nil, err
	}
	return r, nil
}

// fill stores n new sessions over the Unix socket, pipelined, as the
// steady loads' seed 0 numbers them.
func (b *bench) fill(ctx context.Context, s *server, n int) (load.Result, error) {
	g, err := load.Dial(ctx, load.Config{
		Network: "unix", Addr: s.Unix, Conns: b.o.conns, Pipeline: 16,
		Op: load.OpSession, ValueSize: b.o.value, MaxDuration: 5 * time.Minute,
	})
	if err != nil {
		return load.Result{}, err
	}
	defer g.Close()
	res, err := g.Run(ctx, 0, int64(n))
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("%d error replies (first: %s)", res.Errors, res.FirstError)
	}
	if err == nil && res.Ops < int64(n) {
		err = fmt.Errorf("stored %d of %d sessions in %v", res.Ops, n, res.Elapsed.Round(time.Millisecond))
	}
	if err != nil {
		return res, fmt.Errorf("fill: %w", err)
	}
	return res, nil
}

// steady dials the snapshot phase's load over loopback TCP: rewrites of
// the stored sessions from the first on, paced at rate writes/s (0: flat
// out).
func (b *bench) steady(ctx context.Context, s *server, rate float64) (*load.Generator, error) {
	return load.Dial(ctx, load.Config{
		Network: "tcp", Addr: s.Addr, Conns: b.o.conns, Pipeline: snapPipeline,
		Op: load.OpSession, ValueSize: b.o.value, Rate: rate, MaxDuration: time.Minute,
	})
}

// snapshotUnderLoad runs the steady load at rate (0: flat out) for
// -snap-baseline, then sends BGSAVE and runs it until the snapshot is done.
// Each part has a generator of its own, dialed before either starts, which
// rewrites the stored sessions from the first on and stops short of
// creating new ones.
func (b *bench) snapshotUnderLoad(ctx context.Context, s *server, rate float64) (snapRun, error) {
	var r snapRun
	gb, err := b.steady(ctx, s, rate)
	if err != nil {
		return r, err
	}
	defer gb.Close()
	gd, err := b.steady(ctx, s, rate)
	if err != nil {
		return r, err
	}
	defer gd.Close()
	budget := int64(b.o.sessions)

	r.begin = time.Now()
	deadline := r.begin.Add(b.o.snapBase)
	cpu0, err := treeCPU(s.Pid())
	if err != nil {
		return r, err
	}
	r.base, err = runSlices(ctx, gb, func() bool { return !time.Now().Before(deadline) }, budget)
	if err != nil {
		return r, fmt.Errorf("load before the snapshot: %w", err)
	}
	cpu1, err := treeCPU(s.Pid())
	if err != nil {
		return r, err
	}
	r.base.cpu = cpu1 - cpu0

	save, err := bgsave(ctx, s, b.o.snapTimeout)
	if err != nil {
		return r, err
	}
	r.during, err = runSlices(ctx, gd, save.finished, budget)
	if err != nil {
		return r, fmt.Errorf("load during the snapshot: %w", err)
	}
	if err := save.wait(); err != nil {
		return r, err
	}
	r.saved, r.ended = save.start, save.end
	cpu2, err := treeCPU(s.Pid())
	if err != nil {
		return r, err
	}
	r.during.cpu = cpu2 - cpu1
	if r.base.ops >= budget || r.during.ops >= budget {
		b.logf("snapshot: %s: the load rewrote all %d sessions before its part ended; raise -sessions or lower -snap-baseline", s.Name, b.o.sessions)
	}
	return r, nil
}

// runSlices runs g a slice at a time until done says so, at least once,
// or budget writes have been sent.
func runSlices(ctx context.Context, g *load.Generator, done func() bool, budget int64) (sliceSum, error) {
	var sum sliceSum
	for budget > sum.ops {
		res, err := g.Run(ctx, slice, budget-sum.ops)
		sum.add(&res)
		if err != nil {
			return sum, err
		}
		if done() {
			break
		}
	}
	return sum, nil
}

// saving is a BGSAVE under way, watched over INFO.
type saving struct {
	start time.Time
	over  atomic.Bool
	end   time.Time
	err   error
	done  chan struct{}
}

func (sv *saving) finished() bool { return sv.over.Load() }

// wait waits for the snapshot to end and says whether it failed.
func (sv *saving) wait() error {
	<-sv.done
	return sv.err
}

// bgsave starts a snapshot and watches INFO persistence until rdb_saves
// has counted it and none is in progress.
func bgsave(ctx context.Context, s *server, timeout time.Duration) (*saving, error) {
	c, err := dial(ctx, "unix", s.Unix)
	if err != nil {
		return nil, err
	}
	m, err := c.info("persistence")
	if err != nil {
		c.Close()
		return nil, err
	}
	saves0, err := infoInt(m, "rdb_saves")
	if err != nil {
		c.Close()
		return nil, err
	}
	sv := &saving{start: time.Now(), done: make(chan struct{})}
	if _, _, err := c.do(10*time.Second, "BGSAVE"); err != nil {
		c.Close()
		return nil, fmt.Errorf("BGSAVE: %w", err)
	}
	go func() {
		defer close(sv.done)
		defer sv.over.Store(true)
		defer c.Close()
		limit := time.Now().Add(timeout)
		for {
			if m, err := c.info("persistence"); err != nil {
				sv.err = err
				return
			} else if n, _ := infoInt(m, "rdb_saves"); n > saves0 && m["rdb_bgsave_in_progress"] == "0" {
				sv.end = time.Now()
				if st := m["rdb_last_bgsave_status"]; st != "ok" {
					sv.err = fmt.Errorf("BGSAVE failed: rdb_last_bgsave_status:%s\n%s", st, s.LogTail(10))
				}
				return
			}
			if time.Now().After(limit) {
				sv.err = fmt.Errorf("BGSAVE not done after %v (-snap-timeout)", timeout)
				return
			}
			select {
			case <-ctx.Done():
				sv.err = ctx.Err()
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return sv, nil
}

// memSample is the anonymous memory of a server and its children at one
// moment.
type memSample struct {
	t    time.Time
	anon int64
}

// sampler reads a server's memory every interval until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []memSample
	quit    chan struct{}
	done    chan struct{}
}

func startSampler(pid int, every time.Duration) *sampler {
	sm := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if anon, err := treeAnon(pid); err == nil {
				sm.mu.Lock()
				sm.samples = append(sm.samples, memSample{time.Now(), anon})
				sm.mu.Unlock()
			}
			select {
			case <-sm.quit:
				return
			case <-t.C:
			}
		}
	}()
	return sm
}

func (sm *sampler) stop() {
	select {
	case <-sm.quit:
	default:
		close(sm.quit)
	}
	<-sm.done
}

// window returns the samples taken from t0 to t1.
func (sm *sampler) window(t0, t1 time.Time) []memSample {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	var out []memSample
	for _, m := range sm.samples {
		if !m.t.Before(t0) && !m.t.After(t1) {
			out = append(out, m)
		}
	}
	return out
}

// infoOf returns one INFO section of s.
func infoOf(ctx context.Context, s *server, section string) (map[string]string, error) {
	c, err := dial(ctx, "unix", s.Unix)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.info(section)
}

// dbsize returns the number of keys s holds.
func dbsize(ctx context.Context, s *server) (int64, error) {
	text, err := command(ctx, s, 10*time.Second, "DBSIZE")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(text, 10, 64)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
