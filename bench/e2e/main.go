// Command e2e measures sessiond and redis-server behind a real Node.js
// session stack — express, express-session and connect-redis 9 on
// node-redis 5 (app.js) — driven by autocannon, and prints a Markdown
// table with the ratios:
//
//	go run ./bench/e2e                    # both servers, about 3 minutes
//	go run ./bench/e2e -servers redis -duration 5s -rounds 1
//
// Modes, each with 50 connections for -duration after a -warmup, -rounds
// times per store, alternating which store goes first:
//
//	new    GET /inc without a cookie: every request creates a session (SET)
//	read   GET / with a session cookie: GET, then EXPIRE (the touch path)
//	write  GET /inc with a session cookie: GET, then SET
//
// The Node app is the bottleneck here, so the figure that compares the
// stores is their CPU per request: utime+stime of the store process from
// /proc/PID/stat over the measured phase, divided by the requests.
//
// It installs the Node packages (npm ci, from package-lock.json) if
// bench/e2e/node_modules is missing, and redis-server with apt-get if it
// is missing and we are root. A run with any non-2xx response or error is
// marked invalid and exits with status 1.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// mode is one way of driving the app.
type mode struct {
	name, path string
	cookie     bool
	store      string // what the store sees per request
}

var allModes = []mode{
	{"new", "/inc", false, "SET"},
	{"read", "/", true, "GET + EXPIRE"},
	{"write", "/inc", true, "GET + SET"},
}

type options struct {
	servers   []string
	modes     []mode
	duration  time.Duration
	warmup    time.Duration
	rounds    int
	conns     int
	transport string
	sessiond  string
	redis     string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var servers, modes string
	fs.StringVar(&servers, "servers", "sessiond,redis", "stores to run: sessiond, redis or both")
	fs.StringVar(&modes, "modes", "new,read,write", "modes: new, read, write")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each run (whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each run (whole seconds, 0 for none)")
	fs.IntVar(&o.rounds, "rounds", 2, "runs of each store and mode, alternating which store goes first")
	fs.IntVar(&o.conns, "conns", 50, "autocannon connections")
	fs.StringVar(&o.transport, "transport", "tcp", "how the app reaches the store: tcp or unix")
	fs.StringVar(&o.sessiond, "sessiond", "", "sessiond binary (default: go build ./cmd/sessiond)")
	fs.StringVar(&o.redis, "redis-server", "", "redis-server binary (default: from PATH, installed if missing and root)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(servers, ",") {
		switch s = strings.TrimSpace(s); s {
		case target.Sessiond, target.Redis:
			o.servers = append(o.servers, s)
		default:
			return nil, fmt.Errorf("-servers: %q: want sessiond or redis", s)
		}
	}
	if len(o.servers) == 2 && o.servers[0] == target.Redis {
		o.servers[0], o.servers[1] = o.servers[1], o.servers[0]
	}
	for _, m := range strings.Split(modes, ",") {
		found := false
		for _, am := range allModes {
			if am.name == strings.TrimSpace(m) {
				o.modes, found = append(o.modes, am), true
			}
		}
		if !found {
			return nil, fmt.Errorf("-modes: %q: want new, read or write", m)
		}
	}
	switch {
	case o.duration < time.Second || o.duration > 10*time.Minute || o.duration%time.Second != 0:
		return nil, fmt.Errorf("-duration %v: want whole seconds from 1s to 10m", o.duration)
	case o.warmup < 0 || o.warmup%time.Second != 0:
		return nil, fmt.Errorf("-warmup %v: want whole seconds", o.warmup)
	case o.rounds < 1 || o.rounds > 100:
		return nil, fmt.Errorf("-rounds %d: want 1 to 100", o.rounds)
	case o.conns < 1 || o.conns > 1000:
		return nil, fmt.Errorf("-conns %d: want 1 to 1000", o.conns)
	case o.transport != "tcp" && o.transport != "unix":
		return nil, fmt.Errorf("-transport %q: want tcp or unix", o.transport)
	}
	return &o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "e2e: %v\n", err)
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "e2e: "+format+"\n", a...) }
	ok, err := bench(ctx, o, args, stdout, logf)
	if err != nil {
		fmt.Fprintf(stderr, "e2e: %v\n", err)
		return 1
	}
	if !ok {
		fmt.Fprintln(stderr, "e2e: INVALID: some runs had errors or non-2xx responses (see the table)")
		return 1
	}
	return 0
}

func bench(ctx context.Context, o *options, args []string, w io.Writer, logf func(string, ...any)) (bool, error) {
	root, err := target.RepoRoot()
	if err != nil {
		return false, err
	}
	e2eDir := filepath.Join(root, "bench", "e2e")
	if err := ensureNodeModules(ctx, e2eDir, logf); err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "bench-e2e-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)

	bins := map[string]string{}
	for _, s := range o.servers {
		given := o.redis
		if s == target.Sessiond {
			given = o.sessiond
		}
		if bins[s], err = target.Binary(ctx, s, given, dir, logf); err != nil {
			return false, err
		}
	}

	stacks := map[string]*stack{}
	defer func() {
		for _, st := range stacks {
			st.stop()
		}
	}()
	for _, s := range o.servers {
		st, err := startStack(ctx, s, bins[s], dir, e2eDir, o.transport)
		if err != nil {
			return false, err
		}
		stacks[s] = st
		logf("%s: store pid %d at %s, app pid %d at %s", s, st.store.Pid(), st.store.Addr, st.app.Process.Pid, st.url)
	}

	start := time.Now()
	var results []*result
	for round := range o.rounds {
		for i, m := range o.modes {
			// Alternate who goes first, by round and by mode, so that
			// drift on a noisy machine favours neither.
			order := o.servers
			if len(order) == 2 && (round+i)%2 == 1 {
				order = []string{order[1], order[0]}
			}
			for _, s := range order {
				r, err := measure(ctx, o, e2eDir, stacks[s], s, m)
				if err != nil {
					return false, fmt.Errorf("%s %s: %w\nstore log:\n%s\napp log:\n%s", s, m.name, err, stacks[s].store.LogTail(10), tail(stacks[s].appLog, 10))
				}
				logf("round %d  %-8s %-5s %6.0f req/s  p50 %3.0f ms  p99 %3.0f ms  store %5.1f µs/req (%v)  app %4.0f µs/req  bad %d %s",
					round+1, s, m.name, r.perSec(), r.p50, r.p99, r.cpuPerReq(r.storeCPU), r.storeCPU, r.cpuPerReq(r.appCPU), r.bad, r.counterErr)
				results = append(results, r)
			}
		}
	}
	logf("done in %v", time.Since(start).Round(time.Second))
	return report(w, o, args, bins, results), nil
}

// ensureNodeModules installs the locked packages if they are missing.
func ensureNodeModules(ctx context.Context, dir string, logf func(string, ...any)) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "autocannon", "package.json")); err == nil {
		return nil
	}
	logf("npm ci in %s", dir)
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci: %v\n%s", err, out)
	}
	return nil
}
