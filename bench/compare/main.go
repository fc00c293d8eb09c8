// Command compare benchmarks sessiond against redis-server side by side
// on this machine, or with -protocol memcache against memcached, and
// prints Markdown tables for docs/BENCHMARKS.md:
//
//	go run ./bench/compare                       # everything, about 5 minutes
//	go run ./bench/compare -servers redis        # redis-server alone
//	go run ./bench/compare -phases memory -sessions 100000
//	go run ./bench/compare -duration 2s -rounds 1 -transports tcp -ops set
//	go run ./bench/compare -protocol memcache    # against memcached, about 2 minutes
//	taskset -c 1 go run ./bench/compare -server-cpus 0   # servers and load on cores of their own
//	go run ./bench/compare -phases throughput -pipelines 1 -rate 60000   # both at one offered load
//
// It builds cmd/sessiond, starts sessiond and redis-server on loopback
// ports and Unix sockets, and runs the load generator of
// bench/loadgen/load in this process.
//
// With -protocol memcache every command goes over the memcached text
// protocol: the reference server is Debian's memcached (its default
// threads, 1 GiB of cache), sessiond also listens with --memcache-addr,
// and only the throughput phase over TCP runs, since memcached serves
// either TCP or a socket and the memory phase sets sessions as
// connect-redis does.
//
// Throughput: for every transport (tcp, unix), pipeline depth (1, 16) and
// command (SET, GET) it runs each server for -warmup, then measures for
// -duration, -rounds times, alternating which server goes first. Keys are
// picked at random from -keyspace, and SET values vary in length by
// -value-spread (±3% of 512 bytes by default): a session store's writes
// rewrite sessions in no order, and a rewrite usually changes a session's
// size; equal sizes and keys in order would flatter either server. The key
// figure is the server's CPU per operation (utime+stime from
// /proc/PID/stat over the measured phase, divided by the operations; the
// table also gives utime and stime apart): on a two-core machine the load
// generator competes with the server for the cores, so ops/s alone says
// more about the client than the server. With -rate, every run offers the
// same load instead of as much as the generator can drive: the servers'
// CPU and latency are then compared at one load, below saturation, as
// servers mostly run.
//
// Memory: on a fresh server, -sessions sessions are set as connect-redis
// does (SET sess:<32 hex> <512 bytes> EX 86400, pipelined), and the
// server's VmRSS from /proc/PID/status is read before and after.
//
// Any error reply makes the benchmark invalid: it is marked in the table
// and the command exits with status 1.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
	"github.com/sessiond/sessiond/bench/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	protocol load.Protocol
	// reference is the server sessiond is compared with: Redis, or
	// Memcached with -protocol memcache.
	reference  string
	servers    []string
	phases     []string
	transports []string
	pipelines  []int
	ops        []load.Op
	duration   time.Duration
	warmup     time.Duration
	rounds     int
	conns      int
	value      int
	spread     int // percent of value either side
	keyspace   int
	sessions   int
	settle     time.Duration
	sessiond   string
	redis      string
	memcached  string
	sdArgs     []string
	redisArgs  []string
	mcArgs     []string
	serverCPUs string
	rate       float64
	scrape     string // URL to GET every second during the runs
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o                                          options
		protocol, servers, phases, transports, ops string
		pipelines, sdArgs, redisArgs, mcArgs       string
	)
	fs.StringVar(&protocol, "protocol", "resp", "protocol of every run: resp (against redis) or memcache (against memcached)")
	fs.StringVar(&servers, "servers", "", "servers to run: sessiond and redis, or with -protocol memcache sessiond and memcached, or one of them (default: both)")
	fs.StringVar(&phases, "phases", "", "phases to run: throughput, memory (default: both; with -protocol memcache, throughput only)")
	fs.StringVar(&transports, "transports", "", "transports: tcp, unix (default: both; with -protocol memcache, tcp only)")
	fs.StringVar(&pipelines, "pipelines", "1,16", "pipeline depths")
	fs.StringVar(&ops, "ops", "set,get", "commands: set, get")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measured run")
	fs.IntVar(&o.rounds, "rounds", 2, "runs of each server and configuration, alternating which server goes first")
	fs.IntVar(&o.conns, "conns", 50, "connections")
	fs.IntVar(&o.value, "value", 512, "value size in bytes")
	fs.IntVar(&o.spread, "value-spread", 3, "SET values vary in length, uniformly, by up to this percentage of -value either side, as rewritten sessions do (0: every value is -value bytes)")
	fs.IntVar(&o.keyspace, "keyspace", 100_000, "distinct keys for SET and GET (filled before the runs)")
	fs.IntVar(&o.sessions, "sessions", 1_000_000, "sessions the memory phase sets")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "wait before reading RSS after the memory load")
	fs.StringVar(&o.sessiond, "sessiond", "", "sessiond binary to run (default: go build ./cmd/sessiond)")
	fs.StringVar(&o.redis, "redis-server", "", "redis-server binary (default: from PATH, installed with apt-get if missing and root)")
	fs.StringVar(&o.memcached, "memcached", "", "memcached binary (default: from PATH, installed with apt-get if missing and root)")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "run every server on these CPUs only (taskset -c form, e.g. 0); run this program under taskset on the others")
	fs.Float64Var(&o.rate, "rate", 0, "offered load of the throughput runs in commands/s over all connections, each on a fixed schedule (0: flat out); compares the servers at one load")
	fs.StringVar(&sdArgs, "sessiond-args", "", "extra sessiond arguments, space-separated")
	fs.StringVar(&o.scrape, "scrape", "", "GET this `URL` every second while the runs go, as Prometheus would (e.g. http://127.0.0.1:9121/metrics, with -sessiond-args \"--http-addr 127.0.0.1:9121\")")
	fs.StringVar(&redisArgs, "redis-args", "", "extra redis-server arguments, space-separated")
	fs.StringVar(&mcArgs, "memcached-args", "", "extra memcached arguments, space-separated")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.protocol, err = load.ParseProtocol(protocol); err != nil {
		return nil, fmt.Errorf("-protocol: %w", err)
	}
	o.reference = target.Redis
	if o.protocol == load.Memcache {
		o.reference = target.Memcached
		transports = cmp.Or(transports, "tcp")
		phases = cmp.Or(phases, "throughput")
	}
	servers = cmp.Or(servers, target.Sessiond+","+o.reference)
	if o.servers, err = report.OneOf("servers", servers, target.Sessiond, o.reference); err != nil {
		return nil, fmt.Errorf("%w (with -protocol %s)", err, o.protocol)
	}
	if o.phases, err = report.OneOf("phases", cmp.Or(phases, "throughput,memory"), "throughput", "memory"); err != nil {
		return nil, err
	}
	if o.transports, err = report.OneOf("transports", cmp.Or(transports, "tcp,unix"), "tcp", "unix"); err != nil {
		return nil, err
	}
	if o.protocol == load.Memcache {
		if slices.Contains(o.transports, "unix") {
			return nil, errors.New("-transports unix: memcached serves either TCP or a Unix socket, and the memcached comparison runs over TCP; use -transports tcp")
		}
		if slices.Contains(o.phases, "memory") {
			return nil, errors.New("-phases memory: the memory phase sets sessions over RESP, as connect-redis does; run it with -protocol resp")
		}
	}
	for _, s := range report.List(pipelines) {
		var p int
		if _, err := fmt.Sscan(s, &p); err != nil || p < 1 || p > 1000 {
			return nil, fmt.Errorf("-pipelines: %q is not a depth from 1 to 1000", s)
		}
		o.pipelines = append(o.pipelines, p)
	}
	for _, s := range report.List(ops) {
		op, err := load.ParseOp(s)
		if err != nil || op == load.OpSession {
			return nil, fmt.Errorf("-ops: %q: want set or get", s)
		}
		o.ops = append(o.ops, op)
	}
	o.sdArgs, o.redisArgs, o.mcArgs = strings.Fields(sdArgs), strings.Fields(redisArgs), strings.Fields(mcArgs)
	switch {
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return nil, fmt.Errorf("-duration %v: want up to 10m", o.duration)
	case o.warmup < 0:
		return nil, fmt.Errorf("-warmup %v: negative", o.warmup)
	case o.rate < 0 || o.rate > 100_000_000:
		return nil, fmt.Errorf("-rate %g: want 0 (flat out) to 100000000 commands/s", o.rate)
	case o.spread < 0 || o.spread > 100:
		return nil, fmt.Errorf("-value-spread %d: want a percentage from 0 to 100", o.spread)
	case o.rounds < 1:
		return nil, fmt.Errorf("-rounds %d: want at least 1", o.rounds)
	case o.sessions < 1 || o.sessions > 100_000_000:
		return nil, fmt.Errorf("-sessions %d: want 1 to 100000000", o.sessions)
	case len(o.pipelines) == 0 || len(o.ops) == 0:
		return nil, errors.New("-pipelines and -ops must name at least one")
	}
	return &o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "compare: "+format+"\n", a...) }
	b := &bench{o: o, logf: logf}
	if err := b.setup(ctx); err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 1
	}
	defer os.RemoveAll(b.dir)

	start := time.Now()
	fmt.Fprintf(stdout, "`go run ./bench/compare %s` — %s\n\n", strings.Join(args, " "), start.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(stdout, "%s Load average at start: %s.\n\n", b.machine(), target.LoadAvg())
	if b.o.serverCPUs != "" {
		fmt.Fprintf(stdout, "Every server runs on CPUs %s only (taskset), and this program on those its own affinity allows: %s.\n\n", b.o.serverCPUs, target.Affinity())
	}

	if o.scrape != "" {
		sctx, stop := context.WithCancel(ctx)
		scrapes := make(chan int, 1)
		go func() { scrapes <- scrapeEvery(sctx, o.scrape, time.Second) }()
		defer func() {
			stop()
			fmt.Fprintf(stdout, "Scraped %s %d times (every second while a server answered).\n\n", o.scrape, <-scrapes)
		}()
	}

	valid := true
	for _, phase := range o.phases {
		var ok bool
		switch phase {
		case "throughput":
			ok, err = b.throughput(ctx, stdout)
		case "memory":
			ok, err = b.memory(ctx, stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "compare: %s: %v\n", phase, err)
			return 1
		}
		valid = valid && ok
	}
	fmt.Fprintf(stdout, "Load average at the end: %s (other work on the machine makes every figure noisier).\n", target.LoadAvg())
	logf("done in %v", time.Since(start).Round(time.Second))
	if !valid {
		fmt.Fprintln(stderr, "compare: INVALID: some runs had error replies (see the tables)")
		return 1
	}
	return 0
}

// bench holds what every phase needs.
type bench struct {
	o        *options
	logf     func(string, ...any)
	dir      string
	sdBin    string
	redisBin string
	mcBin    string
}

func (b *bench) setup(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "bench-compare-")
	if err != nil {
		return err
	}
	b.dir = dir
	for _, s := range b.o.servers {
		switch s {
		case target.Sessiond:
			b.sdBin, err = target.Binary(ctx, s, b.o.sessiond, dir, b.logf)
		case target.Redis:
			b.redisBin, err = target.Binary(ctx, s, b.o.redis, dir, b.logf)
		case target.Memcached:
			b.mcBin, err = target.Binary(ctx, s, b.o.memcached, dir, b.logf)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// start starts a fresh server by name.
func (b *bench) start(ctx context.Context, name string) (*target.Server, error) {
	cfg := target.Config{Name: name, Dir: b.dir, CPUs: b.o.serverCPUs}
	switch name {
	case target.Sessiond:
		cfg.Binary, cfg.Args = b.sdBin, b.o.sdArgs
		cfg.Memcache = b.o.protocol == load.Memcache
	case target.Redis:
		cfg.Binary, cfg.Args = b.redisBin, b.o.redisArgs
	case target.Memcached:
		cfg.Binary, cfg.Args = b.mcBin, b.o.mcArgs
	}
	return target.Start(ctx, cfg)
}

// addr returns where s speaks the benchmark's protocol over transport.
func (b *bench) addr(s *target.Server, transport string) string {
	switch {
	case b.o.protocol == load.Memcache:
		return s.MemcacheAddr
	case transport == "unix":
		return s.Unix
	}
	return s.Addr
}

// machine describes the machine and the versions, for the table's header.
func (b *bench) machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	parts := []string{fmt.Sprintf("%d cores (%s), %s", runtime.NumCPU(), cpu, runtime.Version())}
	for _, bin := range []string{b.sdBin, b.redisBin, b.mcBin} {
		if bin != "" {
			parts = append(parts, target.Version(bin))
		}
	}
	return "Machine and versions: " + strings.Join(parts, "; ") + "."
}

// scrapeEvery GETs url every interval until ctx is done, and returns how
// many GETs answered 200. Errors (no server between runs) are skipped.
func scrapeEvery(ctx context.Context, url string, interval time.Duration) int {
	t := time.NewTicker(interval)
	defer t.Stop()
	ok := 0
	for {
		select {
		case <-ctx.Done():
			return ok
		case <-t.C:
		}
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return ok
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		}
	}
}
