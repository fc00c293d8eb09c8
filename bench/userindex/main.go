// Command userindex measures what the user index (issue 15) costs a
// sessiond server, the index on (the default, --user-field passport.user)
// against off (--user-field=), both in one run, and prints Markdown tables
// for docs/BENCHMARKS.md:
//
//	go run ./bench/userindex                          # every phase, about 5 minutes
//	go run ./bench/userindex -phases cpu -rounds 5
//	go run ./bench/userindex -phases memory -sessions 1000000 -mem-users 100000
//	go run ./bench/userindex -phases revoke -revoke-users 10000 -revokes 2000
//	go run ./bench/userindex -phases cpu,revoke -profile /tmp/ui   # and CPU profiles of the servers
//
// It builds cmd/sessiond and starts it on loopback ports and Unix sockets
// (package bench/compare/target), and drives it with the load generator
// of bench/loadgen/load in this process. The sessions are express-session's
// JSON with a passport login (load.OpSession), 512 bytes by default.
//
// cpu: two servers, the index on and off, each filled with -keyspace
// sessions of -users users (session k belongs to user k mod -users), whose
// sessions are then rewritten at random, each keeping its user while its
// other fields (the cookie's expiry, the secret, the cart) change, as an
// app rewrites its sessions: -conns connections over TCP at -pipeline.
// The rounds alternate which server goes first. The figure is the server's
// CPU per SET, utime+stime from /proc/PID/stat over the measured phase.
//
// memory: on a fresh server each time, -sessions new sessions are set as
// connect-redis does (over the Unix socket, pipeline 16), belonging to
// -mem-users users, then with a user each (the worst case for the index,
// and what bench/compare's memory phase sets); the index on and off. VmRSS
// from /proc/PID/status is read before and -settle after, with INFO
// memory's store accounting and Go heap.
//
// revoke: a fresh server with the index on holds -revoke-users users of
// 100 sessions each; one connection sends SESSION.REVOKE for -revokes of
// them in turn, each followed by a DEL of the next user's keys (the
// deletes alone), and the round trips are timed.
//
// Any error reply makes the benchmark invalid: it is marked and the
// command exits with status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
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

// options are the command's flags.
type options struct {
	phases      []string
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	conns       int
	pipeline    int
	value       int
	keyspace    int
	users       int
	sessions    int
	memUsers    int
	memRounds   int
	settle      time.Duration
	revokeUsers int
	revokes     int
	perUser     int
	profile     string
	sessiond    string
	sdArgs      []string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("userindex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o              options
		phases, sdArgs string
	)
	fs.StringVar(&phases, "phases", "cpu,memory,revoke", "phases to run: cpu, memory, revoke")
	fs.IntVar(&o.rounds, "rounds", 3, "cpu: measured runs of each server, alternating which goes first")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "cpu: measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "cpu: warm-up before each measured run")
	fs.IntVar(&o.conns, "conns", 50, "connections")
	fs.IntVar(&o.pipeline, "pipeline", 16, "cpu: pipeline depth")
	fs.IntVar(&o.value, "value", 512, "session value size in bytes")
	fs.IntVar(&o.keyspace, "keyspace", 100_000, "cpu: sessions rewritten")
	fs.IntVar(&o.users, "users", 10_000, "cpu: users the sessions belong to, session k to user k mod -users (0: a user each)")
	fs.IntVar(&o.sessions, "sessions", 1_000_000, "memory: sessions set on each fresh server")
	fs.IntVar(&o.memUsers, "mem-users", 100_000, "memory: users the sessions belong to in the first case (the second gives each its own)")
	fs.IntVar(&o.memRounds, "mem-rounds", 1, "memory: measurements of each case")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "memory: wait before reading RSS after the load")
	fs.IntVar(&o.revokeUsers, "revoke-users", 10_000, "revoke: users on the server, each with -per-user sessions")
	fs.IntVar(&o.perUser, "per-user", 100, "revoke: sessions of each user")
	fs.IntVar(&o.revokes, "revokes", 2_000, "revoke: users revoked in turn, timed, each followed by a DEL of another user's keys")
	fs.StringVar(&o.profile, "profile", "", "after the cpu rounds, profile each server for -duration under the same load (on.pprof, off.pprof), and after the timed revokes the server revoking the other users (revoke.pprof), into this `dir` (Go's profiler on --http-addr)")
	fs.StringVar(&o.sessiond, "sessiond", "", "sessiond binary to run (default: go build ./cmd/sessiond)")
	fs.StringVar(&sdArgs, "sessiond-args", "", "extra sessiond arguments for both servers, space-separated")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.phases, err = report.OneOf("phases", phases, "cpu", "memory", "revoke"); err != nil {
		return nil, err
	}
	o.sdArgs = strings.Fields(sdArgs)
	switch {
	case o.rounds < 1 || o.memRounds < 1:
		return nil, fmt.Errorf("-rounds %d, -mem-rounds %d: want at least 1", o.rounds, o.memRounds)
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return nil, fmt.Errorf("-duration %v: want up to 10m", o.duration)
	case o.warmup < 0:
		return nil, fmt.Errorf("-warmup %v: negative", o.warmup)
	case o.pipeline < 1 || o.pipeline > 1000:
		return nil, fmt.Errorf("-pipeline %d: want 1 to 1000", o.pipeline)
	case o.keyspace < 1 || o.users < 0 || o.users > o.keyspace:
		return nil, fmt.Errorf("-keyspace %d, -users %d: want a keyspace, and 0 to that many users", o.keyspace, o.users)
	case o.sessions < 1 || o.sessions > 100_000_000 || o.memUsers < 1 || o.memUsers > o.sessions:
		return nil, fmt.Errorf("-sessions %d, -mem-users %d: want 1 to 100000000 sessions of 1 to that many users", o.sessions, o.memUsers)
	case o.revokeUsers < 1 || o.perUser < 1 || o.revokeUsers*o.perUser > 100_000_000 || o.revokes < 1 || 2*o.revokes > o.revokeUsers:
		return nil, fmt.Errorf("-revoke-users %d, -per-user %d, -revokes %d: want at most 100000000 sessions, and at least two users a revoke (one is deleted with DEL)", o.revokeUsers, o.perUser, o.revokes)
	}
	return &o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "userindex: %v\n", err)
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "userindex: "+format+"\n", a...) }
	b := &bench{o: o, logf: logf}
	if b.dir, err = os.MkdirTemp("", "bench-userindex-"); err != nil {
		fmt.Fprintf(stderr, "userindex: %v\n", err)
		return 1
	}
	defer os.RemoveAll(b.dir)
	if b.bin, err = target.Binary(ctx, target.Sessiond, o.sessiond, b.dir, logf); err != nil {
		fmt.Fprintf(stderr, "userindex: %v\n", err)
		return 1
	}

	start := time.Now()
	fmt.Fprintf(stdout, "`go run ./bench/userindex %s` — %s\n\n", strings.Join(args, " "), start.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(stdout, "Machine and version: %d cores, %s; %s. Load average at start: %s.\n\n",
		runtime.NumCPU(), runtime.Version(), target.Version(b.bin), target.LoadAvg())
	phases := map[string]func(context.Context, io.Writer) (bool, error){"cpu": b.cpu, "memory": b.memory, "revoke": b.revoke}
	valid := true
	for _, phase := range o.phases {
		ok, err := phases[phase](ctx, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "userindex: %s: %v\n", phase, err)
			return 1
		}
		valid = valid && ok
	}
	fmt.Fprintf(stdout, "Load average at the end: %s.\n", target.LoadAvg())
	logf("done in %v", time.Since(start).Round(time.Second))
	if !valid {
		fmt.Fprintln(stderr, "userindex: INVALID: some runs had error replies (see the tables)")
		return 1
	}
	return 0
}

// bench holds what every phase needs.
type bench struct {
	o    *options
	logf func(string, ...any)
	dir  string
	bin  string
}

// The two settings compared.
const (
	on  = "on"
	off = "off"
)

// indexArgs returns sessiond's arguments for the index on or off.
func indexArgs(index string) []string {
	if index == off {
		return []string{"--user-field="}
	}
	return nil // the default: --user-field passport.user
}

// start starts a fresh sessiond with the index on or off, in a directory
// of its own (the socket and log are named after the server), with extra
// arguments.
func (b *bench) start(ctx context.Context, index string, extra ...string) (*target.Server, error) {
	dir, err := os.MkdirTemp(b.dir, index+"-")
	if err != nil {
		return nil, err
	}
	args := append(append(indexArgs(index), b.o.sdArgs...), extra...)
	return target.Start(ctx, target.Config{Name: target.Sessiond, Binary: b.bin, Dir: dir, Args: args})
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// invalid returns the mark a table row gets when n of its replies were
// wrong (what, the first of them), or "" when none was.
func invalid(n int64, what, first string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" **INVALID: %d %s (first: %s)**", n, what, first)
}
