// Command cluster benchmarks a sessiond cluster of real processes on
// loopback: replication lag under a steady write load, write throughput of
// three nodes against one, the time a node takes to join a cluster
// holding a million sessions, and what catching up a paused node costs the
// healthy ones.
//
//	go run ./bench/cluster [-lag-rate 20000] [-lag-probes 2000] [-duration 5s] [-rounds 3] [-join-sessions 1000000] [-catchup-rate 2000] [-catchup-pause 15s] [-catchup-rounds 3]
//
// Lag is what an application sees: a probe writes a key through one node
// and reads it through another until it is there, while a paced load writes
// through all three; the figure is the time from the write's reply to the
// first read that finds it (so it includes a read's round trip, about
// 50µs). It prints Markdown for docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
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

type options struct {
	lagRate       int
	lagProbes     int
	duration      time.Duration
	conns         int
	rounds        int
	pipeline      int
	joinSessions  int
	catchUpRate   int
	catchUpPause  time.Duration
	catchUpRounds int
	catchUpPerf   string
	phases        []string
	sessiond      string
	nodeArgs      []string
	keep          bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var phases string
	fs.IntVar(&o.lagRate, "lag-rate", 20000, "writes per second of the background load during the lag phase, across the three nodes")
	fs.IntVar(&o.lagProbes, "lag-probes", 2000, "probes (write on one node, read on another) in the lag phase")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each throughput run")
	fs.IntVar(&o.conns, "conns", 48, "connections of the throughput load, split evenly over the nodes")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of the throughput phase, each one node then three")
	fs.IntVar(&o.pipeline, "pipeline", 16, "pipeline depth of the throughput load")
	fs.IntVar(&o.joinSessions, "join-sessions", 1_000_000, "sessions (512-byte values) the joining node streams")
	fs.IntVar(&o.catchUpRate, "catchup-rate", 2000, "writes per second through the healthy nodes during the catchup phase")
	fs.DurationVar(&o.catchUpPause, "catchup-pause", 15*time.Second, "how long the catchup phase keeps a node stopped (at least until it is declared failed)")
	fs.IntVar(&o.catchUpRounds, "catchup-rounds", 3, "pauses of the catchup phase")
	fs.StringVar(&o.catchUpPerf, "catchup-perf", "", "a directory: record each node for 1.5 s from each SIGCONT with `perf record -g` (round<N>-<node>.data)")
	fs.StringVar(&phases, "phases", "lag,throughput,join,catchup", "phases to run")
	fs.StringVar(&o.sessiond, "sessiond", "", "sessiond binary (default: go build ./cmd/sessiond)")
	fs.BoolVar(&o.keep, "keep", false, "keep the nodes' directories and logs, and print where")
	fs.Func("node-args", "extra arguments for every cluster node, separated by spaces (e.g. \"--cluster-repair-interval 1m\")", func(v string) error {
		o.nodeArgs = append(o.nodeArgs, strings.Fields(v)...)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.phases = strings.Split(phases, ",")
	if o.catchUpRounds < 1 {
		fmt.Fprintln(stderr, "cluster: -catchup-rounds must be at least 1")
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "cluster: "+format+"\n", a...) }
	dir, err := os.MkdirTemp("", "bench-cluster-")
	if err != nil {
		logf("%v", err)
		return 1
	}
	if o.keep {
		defer logf("the nodes' logs are kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.sessiond, err = target.Binary(ctx, target.Sessiond, o.sessiond, dir, logf); err != nil {
		logf("%v", err)
		return 1
	}
	b := &bench{o: o, dir: dir, logf: logf}
	fmt.Fprintf(stdout, "`go run ./bench/cluster %s` — %s\n\n", strings.Join(args, " "), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(stdout, "Machine: %d cores, %s, %s. Load average at start: %s.\n\n", runtime.NumCPU(), runtime.Version(), target.Version(o.sessiond), target.LoadAvg())
	for _, p := range o.phases {
		var err error
		switch p {
		case "lag":
			err = b.lag(ctx, stdout)
		case "throughput":
			err = b.throughput(ctx, stdout)
		case "join":
			err = b.join(ctx, stdout)
		case "catchup":
			err = b.catchUp(ctx, stdout)
		default:
			err = fmt.Errorf("unknown phase %q (want lag, throughput, join, catchup)", p)
		}
		if err != nil {
			logf("%s: %v", p, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "Load average at the end: %s.\n", target.LoadAvg())
	return 0
}

type bench struct {
	o    options
	dir  string
	logf func(string, ...any)
	seq  int
}

// node starts one sessiond, a cluster node when cluster is set, joining
// join (a gossip address) if not empty. It returns the server and its
// gossip address.
func (b *bench) node(ctx context.Context, cluster bool, join string, extra ...string) (*target.Server, string, error) {
	b.seq++
	var args []string
	gossip := ""
	if cluster {
		gp, err := freePort()
		if err != nil {
			return nil, "", err
		}
		dp, err := freePort()
		if err != nil {
			return nil, "", err
		}
		gossip = fmt.Sprintf("127.0.0.1:%d", gp)
		args = append(args, "--node-name", fmt.Sprintf("n%d", b.seq), "--cluster-addr", gossip,
			"--cluster-data-addr", fmt.Sprintf("127.0.0.1:%d", dp), "--cluster-name", "bench")
		if join != "" {
			args = append(args, "--join", join)
		}
		args = append(args, b.o.nodeArgs...)
	}
	dir := fmt.Sprintf("%s/n%d", b.dir, b.seq)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	s, err := target.Start(ctx, target.Config{Name: target.Sessiond, Binary: b.o.sessiond, Dir: dir, Args: append(args, extra...)})
	return s, gossip, err
}

// cluster starts n nodes joined together and waits until each is ready
// and streams to every other.
func (b *bench) cluster(ctx context.Context, n int) ([]*target.Server, error) {
	var nodes []*target.Server
	first := ""
	for i := range n {
		s, g, err := b.node(ctx, true, first)
		if err != nil {
			stopAll(nodes)
			return nil, err
		}
		if i == 0 {
			first = g
		}
		nodes = append(nodes, s)
	}
	for _, s := range nodes {
		if err := waitConnected(ctx, s, n); err != nil {
			stopAll(nodes)
			return nil, err
		}
	}
	return nodes, nil
}

func stopAll(nodes []*target.Server) {
	for _, s := range nodes {
		s.Stop()
	}
}

// waitConnected waits until s reports cluster_state:ok and n-1 connected
// peers.
func waitConnected(ctx context.Context, s *target.Server, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := infoText(ctx, s, "cluster")
		if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Count(info, "connected=1") == n-1 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not ready with %d peers within 60s: %v\n%s", s.Addr, n-1, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
