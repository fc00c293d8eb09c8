package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// The cpu and always phases: runs of new sessions' SETs, each on a fresh
// server, over a matrix of pipeline depth, persistence mode and server.

// cell is one configuration of the matrix.
type cell struct {
	pipeline int
	mode     string
	server   string
}

// writeSample is what one cell measured, summed over rounds.
type writeSample struct {
	runs     int
	ops      int64
	elapsed  time.Duration
	cpu      time.Duration  // the server's and its reaped children's
	own      target.CPUTime // the server process's own, user and system
	errors   int64
	firstErr string
	latency  load.Histogram
	fsyncs   int64 // sessiond's, from INFO; -1 if unknown
}

func (s *writeSample) opsPerSec() float64 { return float64(s.ops) / s.elapsed.Seconds() }

// perOp returns d per SET in microseconds.
func (s *writeSample) perOp(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e3 / float64(max(s.ops, 1))
}

func (s *writeSample) add(r *writeSample) {
	s.runs++
	s.ops += r.ops
	s.elapsed += r.elapsed
	s.cpu += r.cpu
	s.own = s.own.Add(r.own)
	s.errors += r.errors
	if s.firstErr == "" {
		s.firstErr = r.firstErr
	}
	s.latency.Merge(&r.latency)
	if r.fsyncs < 0 || s.fsyncs < 0 {
		s.fsyncs = -1
	} else {
		s.fsyncs += r.fsyncs
	}
}

// cpuPhase measures CPU per SET with appendfsync everysec and in memory.
func (b *bench) cpuPhase(ctx context.Context, w io.Writer) (bool, error) {
	res, raw, err := b.writeMatrix(ctx, "cpu", []string{memOnly, everysec}, b.o.cpuRate)
	if err != nil {
		return false, err
	}
	return b.printCPU(w, res, raw), nil
}

// alwaysPhase measures SETs per second with appendfsync always.
func (b *bench) alwaysPhase(ctx context.Context, w io.Writer) (bool, error) {
	res, raw, err := b.writeMatrix(ctx, "always", []string{always}, 0)
	if err != nil {
		return false, err
	}
	return b.printAlways(w, res, raw), nil
}

// writeMatrix runs every cell -rounds times, alternating which server
// goes first, and returns the sums and a line per run.
func (b *bench) writeMatrix(ctx context.Context, phase string, modes []string, rate float64) (map[cell]*writeSample, []string, error) {
	res := map[cell]*writeSample{}
	var raw []string
	total := b.o.rounds * len(b.o.pipelines) * len(modes) * len(b.o.servers)
	b.logf("%s: %d runs of %v after %v of warm-up, each on a fresh server", phase, total, b.o.duration, b.o.warmup)
	n, k := 0, 0
	for round := range b.o.rounds {
		for _, p := range b.o.pipelines {
			for _, mode := range modes {
				order := b.o.servers
				if len(order) == 2 && (round+k)%2 == 1 {
					order = []string{order[1], order[0]}
				}
				k++
				for _, name := range order {
					n++
					c := cell{p, mode, name}
					r, err := b.writeRun(ctx, c, rate)
					if err != nil {
						return nil, nil, fmt.Errorf("%s P%d %s: %w", name, p, mode, err)
					}
					line := fmt.Sprintf("round %d  %-8s P%-2d %-8s  %9.0f SET/s  CPU %6.2f µs/SET (user %5.2f sys %5.2f)  p50 %7.0f µs  p99 %7.0f µs  errors %d",
						round+1, name, p, mode, r.opsPerSec(), r.perOp(r.cpu), r.perOp(r.own.User), r.perOp(r.own.System),
						us(r.latency.Quantile(0.5)), us(r.latency.Quantile(0.99)), r.errors)
					if r.fsyncs >= 0 {
						line += fmt.Sprintf("  fsyncs %d", r.fsyncs)
					}
					raw = append(raw, line)
					b.logf("[%d/%d] %s", n, total, line)
					if res[c] == nil {
						res[c] = &writeSample{}
					}
					res[c].add(r)
				}
			}
		}
	}
	return res, raw, nil
}

// writeRun starts a fresh server for c, warms it up, and measures one run
// of new sessions' SETs over loopback TCP.
func (b *bench) writeRun(ctx context.Context, c cell, rate float64) (*writeSample, error) {
	s, err := b.startFresh(ctx, c.server, c.mode)
	if err != nil {
		return nil, err
	}
	defer s.stopRemove()
	g, err := load.Dial(ctx, load.Config{
		Network: "tcp", Addr: s.Addr, Conns: b.o.conns, Pipeline: c.pipeline,
		Op: load.OpSession, ValueSize: b.o.value, Seed: uint64(time.Now().UnixNano()),
		Rate: rate, MaxDuration: b.o.duration + b.o.warmup + time.Minute,
	})
	if err != nil {
		return nil, err
	}
	defer g.Close()
	if b.o.warmup > 0 {
		if _, err := g.Run(ctx, b.o.warmup, b.o.runOps); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	fsync0 := b.fsyncs(ctx, s, c.mode)
	cpu0, err1 := treeCPU(s.Pid())
	own0, err2 := s.CPUTime()
	res, err := g.Run(ctx, b.o.duration, b.o.runOps)
	cpu1, err3 := treeCPU(s.Pid())
	own1, err4 := s.CPUTime()
	if err != nil {
		if !s.Alive() {
			err = fmt.Errorf("%w; the server exited: %v\n%s", err, s.ExitErr(), s.LogTail(10))
		}
		return nil, fmt.Errorf("%w (after %d SETs, %d error replies)", err, res.Ops, res.Errors)
	}
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return nil, err
		}
	}
	fsyncs := int64(-1)
	if fsync0 >= 0 {
		if f1 := b.fsyncs(ctx, s, c.mode); f1 >= 0 {
			fsyncs = f1 - fsync0
		}
	}
	return &writeSample{
		runs: 1, ops: res.Ops, elapsed: res.Elapsed,
		cpu: cpu1 - cpu0, own: own1.Sub(own0),
		errors: res.Errors, firstErr: res.FirstError, latency: res.Latency,
		fsyncs: fsyncs,
	}, nil
}

// fsyncs returns sessiond's count of log flushes (INFO sessiond_fsyncs),
// or -1 for Redis, which does not count them, or no data directory.
func (b *bench) fsyncs(ctx context.Context, s *server, mode string) int64 {
	if s.Name != target.Sessiond || mode == memOnly {
		return -1
	}
	c, err := dial(ctx, "unix", s.Unix)
	if err != nil {
		return -1
	}
	defer c.Close()
	m, err := c.info("persistence")
	if err != nil {
		return -1
	}
	n, err := infoInt(m, "sessiond_fsyncs")
	if err != nil {
		return -1
	}
	return n
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
