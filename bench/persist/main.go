// Command persist benchmarks sessiond's persistence (--dir) against
// redis-server's on this machine, as issue 12 sets the goals, and prints
// Markdown tables for docs/BENCHMARKS.md:
//
//	go run ./bench/persist                          # every phase, about 5 minutes
//	go run ./bench/persist -phases cpu              # CPU per SET, everysec and in memory
//	go run ./bench/persist -phases cpu -pipelines 1 -cpu-rate 20000   # at one offered load
//	go run ./bench/persist -phases always           # writes/s with appendfsync always
//	go run ./bench/persist -phases snapshot -sessions 1000000 -snap-rate 10000
//	go run ./bench/persist -phases startup -restarts 3
//	go run ./bench/persist -servers redis -phases cpu -rounds 1 -duration 2s
//	go run ./bench/persist -phases cpu -pipelines 1 -sessiond-args "--event-loops 1"
//
// It builds cmd/sessiond with target.Build, starts sessiond and
// redis-server on loopback (bench/compare/target), each in a directory of
// its own under os.TempDir() that is removed when the server stops, and
// drives them with the load generator of bench/loadgen/load in this
// process: 50 connections over loopback TCP, SET sess:<32 hex> <512 bytes>
// EX 86400 as connect-redis sets a session.
//
// The phases:
//
//   - cpu: CPU per SET (utime+stime of the server from /proc/PID/stat over
//     the measured run, divided by the SETs) with appendfsync everysec and
//     with no persistence, at each pipeline depth, flat out or at -cpu-rate.
//     Every run starts a fresh server, so the data stays the run's size.
//   - always: SETs per second with appendfsync always, flat out.
//   - snapshot: -sessions sessions, then a steady load (-snap-rate writes/s,
//     rewriting those sessions) during which a snapshot is taken (BGSAVE:
//     sessiond's compaction, Redis's fork); anonymous memory of the server
//     (RssAnon) plus what its children hold alone (Private_Dirty: a fork's
//     copy-on-write) before and at its peak during the snapshot, write p99
//     during against the seconds before; then the same flat out, for
//     throughput.
//   - startup: -sessions sessions saved (SAVE), -log-writes more writes
//     after it for sessiond, then the time from starting the process to
//     its answering a GET of a known key, -restarts times; and the bytes
//     on disk per session of sessiond's snapshot and of Redis's RDB.
//
// Automatic log rewrites are off in every phase (Redis
// --auto-aof-rewrite-percentage 0, sessiond --auto-aof-rewrite-min-size
// 1000gb) unless -rewrites is given, so that a run measures what it names
// and no rewrite falls into one server's run and not the other's.
//
// Any error reply makes the benchmark invalid: it is marked in the table
// and the command exits with status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Phases, in the order they run.
var allPhases = []string{"cpu", "always", "snapshot", "startup"}

// options are the command's flags.
type options struct {
	phases    []string
	servers   []string
	pipelines []int
	conns     int
	value     int
	duration  time.Duration // measured time of a cpu or always run
	warmup    time.Duration
	runOps    int64 // bound on the SETs of any one run
	rounds    int
	cpuRate   float64
	rewrites  bool

	sessions    int
	snapRate    float64
	snapBase    time.Duration // load before each snapshot, the figures without one
	snapTimeout time.Duration
	logWrites   int
	restarts    int

	sessiond string
	redis    string
	sdArgs   []string // added to every sessiond's command line
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("persist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o                          options
		phases, servers, pipelines string
	)
	fs.StringVar(&phases, "phases", strings.Join(allPhases, ","), "phases to run: cpu, always, snapshot, startup")
	fs.StringVar(&servers, "servers", "sessiond,redis", "servers to run: sessiond, redis or both")
	fs.StringVar(&pipelines, "pipelines", "1,16", "pipeline depths of the cpu and always phases")
	fs.IntVar(&o.conns, "conns", 50, "connections of every load")
	fs.IntVar(&o.value, "value", 512, "value size in bytes")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "measured time of each cpu and always run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each cpu and always run")
	fs.Int64Var(&o.runOps, "run-ops", 1_500_000, "most SETs of any one run (warm-up, measured run or slice series), whatever its time")
	fs.IntVar(&o.rounds, "rounds", 2, "runs of each cpu and always configuration per server, alternating which server goes first")
	fs.Float64Var(&o.cpuRate, "cpu-rate", 0, "offered load of the cpu phase in SETs/s over all connections (0: flat out)")
	fs.BoolVar(&o.rewrites, "rewrites", false, "leave the servers' automatic log rewrites on (default: off, so that no run holds one)")
	fs.IntVar(&o.sessions, "sessions", 1_000_000, "sessions stored before the snapshot and startup phases")
	fs.Float64Var(&o.snapRate, "snap-rate", 10_000, "offered writes/s of the snapshot phase's steady load (its p99 and memory)")
	fs.DurationVar(&o.snapBase, "snap-baseline", 3*time.Second, "load before each snapshot: the figures without one")
	fs.DurationVar(&o.snapTimeout, "snap-timeout", time.Minute, "longest a snapshot may take")
	fs.IntVar(&o.logWrites, "log-writes", 100_000, "writes sessiond logs after its snapshot in the startup phase")
	fs.IntVar(&o.restarts, "restarts", 3, "restarts of each server in the startup phase")
	fs.StringVar(&o.sessiond, "sessiond", "", "sessiond binary (default: go build ./cmd/sessiond)")
	fs.Func("sessiond-args", "extra arguments for every sessiond, separated by spaces (e.g. \"--event-loops 1\")", func(v string) error {
		o.sdArgs = append(o.sdArgs, strings.Fields(v)...)
		return nil
	})
	fs.StringVar(&o.redis, "redis-server", "", "redis-server binary (default: from PATH, installed with apt-get if missing and root)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.phases, err = report.OneOf("phases", phases, allPhases...); err != nil {
		return nil, err
	}
	if o.servers, err = report.OneOf("servers", servers, target.Sessiond, target.Redis); err != nil {
		return nil, err
	}
	for _, s := range report.List(pipelines) {
		var p int
		if _, err := fmt.Sscan(s, &p); err != nil || p < 1 || p > 1000 {
			return nil, fmt.Errorf("-pipelines: %q is not a depth from 1 to 1000", s)
		}
		o.pipelines = append(o.pipelines, p)
	}
	switch {
	case len(o.pipelines) == 0:
		return nil, errors.New("-pipelines: empty")
	case o.conns < 1 || o.conns > 1000:
		return nil, fmt.Errorf("-conns %d: want 1 to 1000", o.conns)
	case o.value < 1 || o.value > 1<<20:
		return nil, fmt.Errorf("-value %d: want 1 to 1048576", o.value)
	case o.duration <= 0 || o.duration > time.Minute:
		return nil, fmt.Errorf("-duration %v: want up to 1m", o.duration)
	case o.warmup < 0 || o.warmup > time.Minute:
		return nil, fmt.Errorf("-warmup %v: want 0 to 1m", o.warmup)
	case o.runOps < 1:
		return nil, fmt.Errorf("-run-ops %d: want at least 1", o.runOps)
	case o.rounds < 1 || o.rounds > 20:
		return nil, fmt.Errorf("-rounds %d: want 1 to 20", o.rounds)
	case o.cpuRate < 0 || o.cpuRate > 10_000_000:
		return nil, fmt.Errorf("-cpu-rate %g: want 0 (flat out) to 10000000", o.cpuRate)
	case o.sessions < 1 || o.sessions > 20_000_000:
		return nil, fmt.Errorf("-sessions %d: want 1 to 20000000", o.sessions)
	case o.snapRate <= 0 || o.snapRate > 10_000_000:
		return nil, fmt.Errorf("-snap-rate %g: want a load from 1 to 10000000 writes/s", o.snapRate)
	case o.snapBase <= 0 || o.snapBase > time.Minute:
		return nil, fmt.Errorf("-snap-baseline %v: want up to 1m", o.snapBase)
	case o.snapTimeout <= 0 || o.snapTimeout > 10*time.Minute:
		return nil, fmt.Errorf("-snap-timeout %v: want up to 10m", o.snapTimeout)
	case o.logWrites < 0 || (o.logWrites > o.sessions && slices.Contains(o.phases, "startup")):
		return nil, fmt.Errorf("-log-writes %d: want 0 to -sessions (%d): they rewrite stored sessions", o.logWrites, o.sessions)
	case o.restarts < 1 || o.restarts > 20:
		return nil, fmt.Errorf("-restarts %d: want 1 to 20", o.restarts)
	}
	return &o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "persist: %v\n", err)
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "persist: "+format+"\n", a...) }
	b := &bench{o: o, logf: logf}
	defer b.cleanup()
	if err := b.setup(ctx); err != nil {
		fmt.Fprintf(stderr, "persist: %v\n", err)
		return 1
	}

	start := time.Now()
	b.stamp = fmt.Sprintf("`%s` — %s, commit %s", commandLine(args), start.Format("2006-01-02 15:04 MST"), b.commit())
	fmt.Fprintf(stdout, "%s\n\n%s Load average at start: %s.\n\n", b.stamp, b.machine(), target.LoadAvg())

	valid := true
	for _, phase := range o.phases {
		var ok bool
		switch phase {
		case "cpu":
			ok, err = b.cpuPhase(ctx, stdout)
		case "always":
			ok, err = b.alwaysPhase(ctx, stdout)
		case "snapshot":
			ok, err = b.snapshotPhase(ctx, stdout)
		case "startup":
			ok, err = b.startupPhase(ctx, stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "persist: %s: %v\n", phase, err)
			return 1
		}
		valid = valid && ok
	}
	fmt.Fprintf(stdout, "Load average at the end: %s (other work on the machine makes every figure noisier).\n", target.LoadAvg())
	logf("done in %v", time.Since(start).Round(time.Second))
	if !valid {
		fmt.Fprintln(stderr, "persist: INVALID: some runs had error replies (see the tables)")
		return 1
	}
	return 0
}

// commandLine returns the command as it can be typed again: arguments
// with spaces or quotes in single quotes.
func commandLine(args []string) string {
	parts := []string{"go run ./bench/persist"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// bench holds what every phase needs.
type bench struct {
	o        *options
	logf     func(string, ...any)
	root     string // temporary directory of the binary and the servers
	sdBin    string
	redisBin string
	stamp    string // command, date and commit, printed above every table
}

func (b *bench) setup(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "bench-persist-")
	if err != nil {
		return err
	}
	b.root = dir
	for _, s := range b.o.servers {
		switch s {
		case target.Sessiond:
			b.sdBin, err = target.Binary(ctx, s, b.o.sessiond, dir, b.logf)
		case target.Redis:
			b.redisBin, err = target.Binary(ctx, s, b.o.redis, dir, b.logf)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cleanup removes the temporary directory and all it holds.
func (b *bench) cleanup() {
	if b.root != "" {
		os.RemoveAll(b.root)
	}
}

// commit returns the short commit of the repository, noting uncommitted
// changes, so that a table says what it measured.
func (b *bench) commit() string {
	root, err := target.RepoRoot()
	if err != nil {
		return "unknown"
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " with uncommitted changes"
	}
	return c
}

// machine describes the machine and the versions, for the header.
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
	for _, bin := range []string{b.sdBin, b.redisBin} {
		if bin != "" {
			parts = append(parts, target.Version(bin))
		}
	}
	if fs := filesystem(os.TempDir()); fs != "" {
		parts = append(parts, "data directories on "+fs)
	}
	return "Machine and versions: " + strings.Join(parts, "; ") + "."
}

// filesystem names the file system type and device holding dir, from
// /proc/self/mounts (the longest mount point that is a prefix of dir).
func filesystem(dir string) string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	best, desc := -1, ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, desc = len(mp), fmt.Sprintf("%s (%s, %s)", mp, f[2], f[0])
		}
	}
	return desc
}
