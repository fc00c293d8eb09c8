package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
	"github.com/sessiond/sessiond/bench/report"
)

// cpuRun is one measured run of one server.
type cpuRun struct {
	round    int
	index    string
	ops      int64
	elapsed  time.Duration
	cpu      target.CPUTime
	errors   int64
	firstErr string
	p50, p99 time.Duration
	loadAvg  string
}

func (r *cpuRun) perOp(d time.Duration) float64 { return us(d) / float64(max(r.ops, 1)) }

// cpu compares the server's CPU per SET with the index on and off, and
// prints the table. It reports false if any run had error replies.
func (b *bench) cpu(ctx context.Context, w io.Writer) (bool, error) {
	servers := map[string]*target.Server{}
	httpAddrs := map[string]string{}
	defer func() {
		for _, s := range servers {
			s.Stop()
		}
	}()
	for _, index := range []string{on, off} {
		var extra []string
		if b.o.profile != "" {
			addr, err := freeAddr()
			if err != nil {
				return false, err
			}
			httpAddrs[index] = addr
			extra = []string{"--http-addr", addr, "--http-pprof"}
		}
		s, err := b.start(ctx, index, extra...)
		if err != nil {
			return false, err
		}
		servers[index] = s
		// Every session exists before the runs, so that each SET is a
		// rewrite, by the same user.
		res, err := load.RunOnce(ctx, b.rewriteConfig(s, true), int64(b.o.keyspace))
		if err != nil {
			return false, fmt.Errorf("index %s: fill: %w", index, err)
		}
		b.logf("cpu: index %s: pid %d, filled %d sessions", index, s.Pid(), res.Ops)
	}

	var runs []*cpuRun
	for round := range b.o.rounds {
		order := []string{on, off}
		if round%2 == 1 {
			order = []string{off, on}
		}
		for _, index := range order {
			s := servers[index]
			r, err := b.measureCPU(ctx, s)
			if err != nil {
				if !s.Alive() {
					err = fmt.Errorf("%w; the server exited: %v", err, s.ExitErr())
				}
				return false, fmt.Errorf("index %s: %w\n%s", index, err, s.LogTail(10))
			}
			r.round, r.index = round+1, index
			runs = append(runs, r)
			b.logf("cpu: %s", r.line())
		}
	}
	if b.o.profile != "" {
		if err := b.profileCPU(ctx, servers, httpAddrs); err != nil {
			return false, err
		}
	}
	return b.printCPU(w, runs), nil
}

// rewriteConfig returns the load of the cpu phase on s: its sessions
// rewritten at random, or in order to fill them.
func (b *bench) rewriteConfig(s *target.Server, fill bool) load.Config {
	cfg := load.Config{
		Network: "tcp", Addr: s.Addr, Conns: b.o.conns, Pipeline: b.o.pipeline,
		Op: load.OpSession, ValueSize: b.o.value, Keyspace: b.o.keyspace, Users: b.o.users,
		Rewrite: true, Seed: uint64(time.Now().UnixNano()),
	}
	if fill {
		cfg.Network, cfg.Addr, cfg.Pipeline, cfg.Sequential = "unix", s.Unix, 16, true
	}
	return cfg
}

// measureCPU runs one warm-up and one measured phase on s.
func (b *bench) measureCPU(ctx context.Context, s *target.Server) (*cpuRun, error) {
	res, cpu, err := target.Measure(ctx, s, b.rewriteConfig(s, false), b.o.warmup, b.o.duration)
	if err != nil {
		return nil, err
	}
	return &cpuRun{
		ops: res.Ops, elapsed: res.Elapsed, cpu: cpu,
		errors: res.Errors, firstErr: res.FirstError,
		p50: res.Latency.Quantile(0.5), p99: res.Latency.Quantile(0.99),
		loadAvg: target.LoadAvg(),
	}, nil
}

func (r *cpuRun) line() string {
	return fmt.Sprintf("round %d  index %-3s  %9.0f SET/s  server %5.2f µs/SET (user %5.2f sys %5.2f)  p50 %6.0f µs  p99 %6.0f µs  errors %d  load %s",
		r.round, r.index, float64(r.ops)/r.elapsed.Seconds(), r.perOp(r.cpu.Total()), r.perOp(r.cpu.User), r.perOp(r.cpu.System),
		us(r.p50), us(r.p99), r.errors, r.loadAvg)
}

// printCPU writes the table of every run and the sums; it reports false if
// any run had error replies.
func (b *bench) printCPU(w io.Writer, runs []*cpuRun) bool {
	users := fmt.Sprintf("%s users (session k belongs to user k mod %d, %d sessions each)", report.Thousands(float64(b.o.users)), b.o.users, b.o.keyspace/max(b.o.users, 1))
	if b.o.users == 0 {
		users = "a user each"
	}
	fmt.Fprintf(w, "### CPU per SET, the index on and off\n\n")
	fmt.Fprintf(w, "Two servers, `--user-field` at its default (`passport.user`, index on) and `--user-field=` (off), each filled with %s express-session JSON sessions of %d bytes with a passport login, of %s. Then the sessions are rewritten at random (`SET sess:<32 hex> <json> EX 86400`), each keeping its user while its cookie expiry, CSRF secret, lastSeen and cart change: %d connections over TCP at pipeline %d, %v measured after %v of warm-up, %d rounds alternating which server goes first. Server CPU is utime+stime from /proc/PID/stat over the measured phase (clock tick %v); load is /proc/loadavg after each run.\n\n",
		report.Thousands(float64(b.o.keyspace)), b.o.value, users, b.o.conns, b.o.pipeline, b.o.duration, b.o.warmup, b.o.rounds, target.ClockTick())
	fmt.Fprintln(w, "| round | index | SET/s | p50 µs | p99 µs | server CPU µs/SET | user | system | load average |")
	fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	valid := true
	sum := map[string]*cpuRun{on: {}, off: {}}
	perRound := map[int]map[string]float64{}
	for _, r := range runs {
		note := invalid(r.errors, "error replies", r.firstErr)
		valid = valid && note == ""
		fmt.Fprintf(w, "| %d | %s%s | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %s |\n",
			r.round, r.index, note, report.Thousands(float64(r.ops)/r.elapsed.Seconds()), us(r.p50), us(r.p99),
			r.perOp(r.cpu.Total()), r.perOp(r.cpu.User), r.perOp(r.cpu.System), r.loadAvg)
		s := sum[r.index]
		s.ops += r.ops
		s.elapsed += r.elapsed
		s.cpu = s.cpu.Add(r.cpu)
		if perRound[r.round] == nil {
			perRound[r.round] = map[string]float64{}
		}
		perRound[r.round][r.index] = r.perOp(r.cpu.Total())
	}
	for _, index := range []string{on, off} {
		s := sum[index]
		fmt.Fprintf(w, "| all | %s | %s | | | **%.2f** | %.2f | %.2f | |\n", index,
			report.Thousands(float64(s.ops)/s.elapsed.Seconds()), s.perOp(s.cpu.Total()), s.perOp(s.cpu.User), s.perOp(s.cpu.System))
	}
	var ratios []string
	for round := 1; round <= b.o.rounds; round++ {
		ratios = append(ratios, fmt.Sprintf("%.3f×", perRound[round][on]/perRound[round][off]))
	}
	a, z := sum[on].perOp(sum[on].cpu.Total()), sum[off].perOp(sum[off].cpu.Total())
	fmt.Fprintf(w, "\nCPU per SET, on/off: **%s** over all rounds (each round: %s); on − off: %.2f µs per SET.\n\n",
		fmt.Sprintf("%.3f×", a/z), strings.Join(ratios, ", "), a-z)
	return valid
}

// profileCPU profiles each server under the phase's load for one
// -duration, and writes the profiles into the -profile directory.
func (b *bench) profileCPU(ctx context.Context, servers map[string]*target.Server, httpAddrs map[string]string) error {
	if err := os.MkdirAll(b.o.profile, 0o755); err != nil {
		return err
	}
	for _, index := range []string{on, off} {
		g, err := load.Dial(ctx, b.rewriteConfig(servers[index], false))
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			_, err := g.Run(ctx, b.o.duration+2*time.Second, 0)
			done <- err
		}()
		secs := strconv.Itoa(max(1, int(b.o.duration.Seconds())))
		err = fetch(ctx, "http://"+httpAddrs[index]+"/debug/pprof/profile?seconds="+secs, filepath.Join(b.o.profile, index+".pprof"))
		if err2 := <-done; err == nil {
			err = err2
		}
		g.Close()
		if err != nil {
			return fmt.Errorf("profile of index %s: %w", index, err)
		}
		b.logf("cpu: wrote %s", filepath.Join(b.o.profile, index+".pprof"))
	}
	return nil
}

// fetch GETs url into the file at path.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
