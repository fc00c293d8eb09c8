// Command loadgen sends Redis-protocol or memcached text protocol load to
// a server on loopback or a Unix socket and prints throughput, round-trip
// latency and error replies:
//
//	go run ./bench/loadgen -addr 127.0.0.1:6379 -op set -P 16 -d 5s
//	go run ./bench/loadgen -unix /tmp/redis.sock -op get -c 50 -n 1000000
//	go run ./bench/loadgen -protocol memcache -addr 127.0.0.1:11211 -op get
//	go run ./bench/loadgen -op get -rate 50000     # at a fixed offered load
//	go run ./bench/loadgen -op session -rewrite -users 10000 -P 16   # rewrite 100,000 sessions of 10,000 users
//
// GET runs first fill the keyspace with SET (turn off with -fill=false).
// It exits with status 1 if the server answered any command with an error:
// such a benchmark is invalid. The engine is package
// github.com/sessiond/sessiond/bench/loadgen/load, which bench/compare
// runs in-process.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		protocol = fs.String("protocol", "resp", "protocol: resp (Redis) or memcache (memcached text protocol)")
		addr     = fs.String("addr", "", "server's TCP address, loopback only (default 127.0.0.1:6379, or 127.0.0.1:11211 with -protocol memcache)")
		unix     = fs.String("unix", "", "server's Unix socket path (overrides -addr)")
		conns    = fs.Int("c", 50, "connections")
		pipeline = fs.Int("P", 1, "pipeline depth: commands per round trip")
		opName   = fs.String("op", "set", "command: set, get or session (SET sess:<hex> v EX 86400 or set sess:<hex> 0 86400 n, new keys)")
		value    = fs.Int("value", 512, "value size in bytes")
		spread   = fs.Int("value-spread", 0, "set values vary in length, uniformly, by up to this percentage of -value either side (0: every value is -value bytes)")
		keyspace = fs.Int("keyspace", 100_000, "number of distinct keys for set and get (and session with -rewrite)")
		users    = fs.Int("users", 0, "for session: the sessions belong to this many users, session k to user k mod -users (0: a user per session)")
		rewrite  = fs.Bool("rewrite", false, "for session: rewrite the sessions of -keyspace keys at random, each keeping its user, the other fields changed, instead of new ones")
		duration = fs.Duration("d", 5*time.Second, "measured duration (0: bounded by -n only)")
		count    = fs.Int64("n", 0, "stop after this many commands (0: bounded by -d only)")
		warmup   = fs.Duration("warmup", time.Second, "unmeasured warm-up before the measured phase")
		fill     = fs.Bool("fill", true, "for get: set every key of the keyspace first")
		seed     = fs.Uint64("seed", 1, "seed for key choice")
		rate     = fs.Float64("rate", 0, "offered load in commands/s over all connections, each on a fixed schedule (0: flat out)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	op, err := load.ParseOp(*opName)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	proto, err := load.ParseProtocol(*protocol)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *addr == "" {
		*addr = "127.0.0.1:6379"
		if proto == load.Memcache {
			*addr = "127.0.0.1:11211"
		}
	}
	if *spread < 0 || *spread > 100 {
		fmt.Fprintf(stderr, "loadgen: -value-spread %d: want a percentage from 0 to 100\n", *spread)
		return 2
	}
	if *duration <= 0 && *count <= 0 {
		fmt.Fprintln(stderr, "loadgen: set -d or -n: the run must be bounded")
		return 2
	}
	cfg := load.Config{
		Protocol:    proto,
		Network:     "tcp",
		Addr:        *addr,
		Conns:       *conns,
		Pipeline:    *pipeline,
		Op:          op,
		ValueSize:   *value,
		ValueSpread: *value * *spread / 100,
		Keyspace:    *keyspace,
		Users:       *users,
		Rewrite:     *rewrite,
		Seed:        *seed,
	}
	if *unix != "" {
		cfg.Network, cfg.Addr = "unix", *unix
	}

	if op == load.OpGet && *fill {
		res, err := Fill(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: fill: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "filled %d keys in %v\n", res.Ops, res.Elapsed.Round(time.Millisecond))
	}

	cfg.Rate = *rate // the fill runs flat out
	g, err := load.Dial(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer g.Close()
	if *warmup > 0 {
		if _, err := g.Run(ctx, *warmup, 0); err != nil {
			fmt.Fprintf(stderr, "loadgen: warm-up: %v\n", err)
			return 1
		}
	}
	res, err := g.Run(ctx, *duration, *count)
	Print(stdout, cfg, &res)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if res.Errors > 0 {
		fmt.Fprintf(stderr, "loadgen: INVALID: %d error replies (first: %s)\n", res.Errors, res.FirstError)
		return 1
	}
	if res.Misses > 0 {
		fmt.Fprintf(stderr, "loadgen: warning: %d GETs found no value (fill the keyspace: -fill)\n", res.Misses)
	}
	return 0
}

// Fill sets every key of cfg's keyspace once, so that GETs hit.
func Fill(ctx context.Context, cfg load.Config) (load.Result, error) {
	cfg.Op = load.OpSet
	cfg.Sequential = true
	cfg.Pipeline = 16
	g, err := load.Dial(ctx, cfg)
	if err != nil {
		return load.Result{}, err
	}
	defer g.Close()
	res, err := g.Run(ctx, 0, int64(g.Config().Keyspace))
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("%d error replies (first: %s)", res.Errors, res.FirstError)
	}
	return res, err
}

// Print writes a result as a few aligned lines.
func Print(w io.Writer, cfg load.Config, r *load.Result) {
	us := func(d time.Duration) string { return fmt.Sprintf("%.1fµs", float64(d)/1e3) }
	rate := "flat out"
	if cfg.Rate > 0 {
		rate = fmt.Sprintf("%.0f/s", cfg.Rate)
	}
	value := fmt.Sprintf("%dB", cfg.ValueSize)
	if cfg.ValueSpread > 0 {
		value += fmt.Sprintf("±%d", cfg.ValueSpread)
	}
	fmt.Fprintf(w, "%s %s %s %v conns=%d pipeline=%d value=%s rate=%s\n",
		cfg.Protocol, cfg.Network, cfg.Addr, r.Op, r.Conns, r.Pipeline, value, rate)
	fmt.Fprintf(w, "ops        %d in %v (%d round trips)\n", r.Ops, r.Elapsed.Round(time.Millisecond), r.Batches)
	fmt.Fprintf(w, "ops/s      %.0f\n", r.OpsPerSec())
	fmt.Fprintf(w, "latency    per round trip: p50 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
		us(r.Latency.Quantile(0.50)), us(r.Latency.Quantile(0.99)), us(r.Latency.Quantile(0.999)),
		us(r.Latency.Max()), us(r.Latency.Mean()))
	fmt.Fprintf(w, "errors     %d", r.Errors)
	if r.Errors > 0 {
		fmt.Fprintf(w, " (first: %s)", r.FirstError)
	}
	fmt.Fprintln(w)
	if r.Op == load.OpGet {
		fmt.Fprintf(w, "misses     %d\n", r.Misses)
	}
}
