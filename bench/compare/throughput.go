package main

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// config is one cell of the throughput matrix.
type config struct {
	transport string
	pipeline  int
	op        load.Op
}

// sample is what one server measured for one config, summed over rounds.
type sample struct {
	runs      int
	ops       int64
	elapsed   time.Duration
	serverCPU target.CPUTime
	clientCPU time.Duration
	errors    int64
	firstErr  string
	misses    int64
	latency   load.Histogram
}

func (s *sample) opsPerSec() float64 { return float64(s.ops) / s.elapsed.Seconds() }

// cpuPerOp returns the server's CPU per operation in microseconds.
func (s *sample) cpuPerOp() float64 { return s.perOp(s.serverCPU.Total()) }

// userPerOp and sysPerOp return cpuPerOp's user and system parts.
func (s *sample) userPerOp() float64 { return s.perOp(s.serverCPU.User) }
func (s *sample) sysPerOp() float64  { return s.perOp(s.serverCPU.System) }

// perOp returns d per operation in microseconds.
func (s *sample) perOp(d time.Duration) float64 {
	return float64(d.Microseconds()) / float64(max(s.ops, 1))
}

func (b *bench) configs() []config {
	var cs []config
	for _, t := range b.o.transports {
		for _, p := range b.o.pipelines {
			for _, op := range b.o.ops {
				cs = append(cs, config{t, p, op})
			}
		}
	}
	return cs
}

// throughput runs the matrix and prints its table. It reports false if
// any run had error replies.
func (b *bench) throughput(ctx context.Context, w io.Writer) (bool, error) {
	servers := map[string]*target.Server{}
	defer func() {
		for _, s := range servers {
			s.Stop()
		}
	}()
	for _, name := range b.o.servers {
		s, err := b.start(ctx, name)
		if err != nil {
			return false, err
		}
		servers[name] = s
		// GETs must hit: fill the keyspace once, over the Unix socket
		// where there is one. The SET runs overwrite the same keys, so
		// the data set stays this size.
		network := "unix"
		if b.o.protocol == load.Memcache {
			network = "tcp"
		}
		fill := load.Config{Protocol: b.o.protocol, Network: network, Addr: b.addr(s, network),
			Conns: b.o.conns, Pipeline: 16, ValueSize: b.o.value, ValueSpread: b.valueSpread(),
			Keyspace: b.o.keyspace, Sequential: true}
		g, err := load.Dial(ctx, fill)
		if err != nil {
			return false, err
		}
		res, err := g.Run(ctx, 0, int64(b.o.keyspace))
		g.Close()
		if err == nil && res.Errors > 0 {
			err = fmt.Errorf("%d error replies (first: %s)", res.Errors, res.FirstError)
		}
		if err != nil {
			return false, fmt.Errorf("%s: fill: %w", name, err)
		}
		b.logf("%s: pid %d, filled %d keys", name, s.Pid(), res.Ops)
	}

	configs := b.configs()
	results := map[string]map[config]*sample{}
	for _, name := range b.o.servers {
		results[name] = map[config]*sample{}
		for _, c := range configs {
			results[name][c] = &sample{}
		}
	}
	var raw []string
	total := b.o.rounds * len(configs) * len(b.o.servers)
	b.logf("throughput: %d runs of %v + %v warm-up, about %v",
		total, b.o.duration, b.o.warmup, time.Duration(total)*(b.o.duration+b.o.warmup+200*time.Millisecond))
	n := 0
	for round := range b.o.rounds {
		for i, c := range configs {
			// Alternate who goes first, by round and by config, so
			// that drift on a noisy machine favours neither.
			order := b.o.servers
			if len(order) == 2 && (round+i)%2 == 1 {
				order = []string{order[1], order[0]}
			}
			for _, name := range order {
				n++
				s := servers[name]
				r, err := b.measure(ctx, s, c)
				if err != nil {
					if !s.Alive() {
						err = fmt.Errorf("%w; the server exited: %v", err, s.ExitErr())
					}
					return false, fmt.Errorf("%s %s P%d %v: %w\n%s", name, c.transport, c.pipeline, c.op, err, s.LogTail(10))
				}
				line := fmt.Sprintf("round %d  %-9s %-4s P%-2d %-3v  %9.0f ops/s  server %6.2f µs/op (user %5.2f sys %5.2f)  loadgen %6.2f µs/op  p50 %7.0f µs  p99 %7.0f µs  errors %d  misses %d",
					round+1, name, c.transport, c.pipeline, c.op, r.opsPerSec(), r.cpuPerOp(), r.userPerOp(), r.sysPerOp(),
					r.perOp(r.clientCPU),
					us(r.latency.Quantile(0.5)), us(r.latency.Quantile(0.99)), r.errors, r.misses)
				raw = append(raw, line)
				b.logf("[%d/%d] %s", n, total, line)
				agg := results[name][c]
				agg.runs++
				agg.ops += r.ops
				agg.elapsed += r.elapsed
				agg.serverCPU = agg.serverCPU.Add(r.serverCPU)
				agg.clientCPU += r.clientCPU
				agg.errors += r.errors
				agg.misses += r.misses
				if agg.firstErr == "" {
					agg.firstErr = r.firstErr
				}
				agg.latency.Merge(&r.latency)
			}
		}
	}
	return b.printThroughput(w, configs, results, raw), nil
}

// measure runs one warm-up and one measured phase of config c on s.
func (b *bench) measure(ctx context.Context, s *target.Server, c config) (*sample, error) {
	g, err := load.Dial(ctx, load.Config{
		Protocol: b.o.protocol, Network: c.transport, Addr: b.addr(s, c.transport), Conns: b.o.conns, Pipeline: c.pipeline,
		Op: c.op, ValueSize: b.o.value, ValueSpread: b.valueSpread(), Keyspace: b.o.keyspace, Seed: uint64(time.Now().UnixNano()),
		Rate: b.o.rate,
	})
	if err != nil {
		return nil, err
	}
	defer g.Close()
	if b.o.warmup > 0 {
		if _, err := g.Run(ctx, b.o.warmup, 0); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	cpu0, err := s.CPUTime()
	if err != nil {
		return nil, err
	}
	self0 := selfCPU()
	res, err := g.Run(ctx, b.o.duration, 0)
	self1 := selfCPU()
	cpu1, err2 := s.CPUTime()
	if err != nil {
		if res.Errors > 0 {
			err = fmt.Errorf("%w (after %d ops and %d error replies, the first: %s)", err, res.Ops, res.Errors, res.FirstError)
		} else {
			err = fmt.Errorf("%w (after %d ops, no error reply)", err, res.Ops)
		}
		return nil, err
	}
	if err2 != nil {
		return nil, err2
	}
	return &sample{
		runs: 1, ops: res.Ops, elapsed: res.Elapsed,
		serverCPU: cpu1.Sub(cpu0), clientCPU: self1 - self0,
		errors: res.Errors, firstErr: res.FirstError, misses: res.Misses,
		latency: res.Latency,
	}, nil
}

// valueSpread returns how many bytes either side of -value a SET's value
// may be.
func (b *bench) valueSpread() int { return b.o.value * b.o.spread / 100 }

// selfCPU returns this process's CPU time: the load generator's cost.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
