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
	"runtime/debug"
	"syscall"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/internal/disk"
	"github.com/sessiond/sessiond/internal/ops"
	"github.com/sessiond/sessiond/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process the
		// default way, for when shutdown hangs.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // the store would not open or close; the sessions subcommand failed
	exitConfig = 2 // bad flags, environment or config file
	exitLocked = 3 // another process serves the data directory (--dir)
)

// run is the whole program but its signals: it runs until ctx is done and
// returns the exit status. A first argument "sessions" runs that
// subcommand instead of the server.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sessions" {
		return runSessions(ctx, args[1:], lookupEnv, stdout, stderr)
	}
	c, err := loadConfig(args, lookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "sessiond: %v\n", err)
		return exitConfig
	case c.Version:
		fmt.Fprintf(stdout, "sessiond %s %s\n", version(), runtime.Version())
		return exitOK
	}

	log := newLogger(stderr, c)
	setGC(lookupEnv)
	ctx, shutdown := context.WithCancelCause(ctx)
	defer shutdown(nil)

	// The certificates before the store, which may take long to load.
	tlsConfig, err := loadTLS(ctx, c, log)
	if err != nil {
		fmt.Fprintf(stderr, "sessiond: %v\n", err)
		return exitConfig
	}

	opts := c.storeOptions()
	opts.Logger = log
	var node *cluster.Node
	if c.Cluster.Addr != "" {
		node, err = cluster.New(c.clusterConfig(log))
		if err != nil {
			fmt.Fprintf(stderr, "sessiond: %s\n", explain(err))
			return exitConfig
		}
		opts.NodeID, opts.Replicator = node.ID(), node
	}
	// A single server answers LOADING while it loads its data directory;
	// a cluster node loads before it joins, and serves after.
	opts.LoadInBackground = node == nil
	store, err := sessiond.Open(opts)
	var locked *disk.LockedError
	switch {
	case errors.As(err, &locked):
		log.Error("sessiond: "+locked.Error()+"; stop it first, or give this one another --dir", "dir", locked.Dir, "pid", locked.PID)
		return exitLocked
	case err != nil:
		log.Error("sessiond: cannot open the store", "err", err)
		return exitFailed
	}

	// The HTTP listener comes up first, so that probes hear a node that
	// loads or joins.
	var web *ops.Server
	if c.HTTPAddr != "" {
		web = ops.New(ops.Config{Addr: c.HTTPAddr, Store: store, Node: node, RequirePass: c.RequirePass, Pprof: c.HTTPPprof, Version: version(), Logger: log})
		if err := web.Listen(); err != nil {
			fmt.Fprintf(stderr, "sessiond: %s\n", listenFailure("the HTTP listener", "--http-addr", c.HTTPAddr, err))
			store.Close()
			return exitFailed
		}
		go func() {
			if err := web.Serve(); err != nil {
				log.Error("sessiond: the HTTP listener failed", "err", err)
			}
		}()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			web.Shutdown(ctx)
		}()
	}

	var clusterSrv server.Cluster
	if node != nil {
		if err := node.Start(ctx, store); err != nil {
			fmt.Fprintf(stderr, "sessiond: %s\n", describe(err))
			store.Close()
			return exitFailed
		}
		clusterSrv = clusterInfo{node}
	}
	srv := server.New(store, server.Config{
		Addr:             c.Addr,
		Unix:             c.Unix,
		UnixPerm:         c.UnixPerm,
		RequirePass:      c.RequirePass,
		ProtectedModeOff: !c.ProtectedMode,
		MaxClients:       c.MaxClients,
		TLSAddr:          c.TLSAddr,
		TLSConfig:        tlsConfig,
		Timeout:          c.Timeout,
		EventLoops:       c.EventLoops,

		SlowlogSlowerThan:       c.SlowlogSlowerThan,
		SlowlogMaxLen:           c.SlowlogMaxLen,
		LatencyMonitorThreshold: c.LatencyMonitorThreshold,

		WritesWait: c.Cluster.SyncReplicas > 0,
		Logger:     log,
		Version:    version(),
		Settings:   c.settingTexts(),

		MemcacheAddr:     c.MemcacheAddr,
		MemcacheUnix:     c.MemcacheUnix,
		MemcacheInsecure: c.MemcacheInsecure,

		Cluster:  clusterSrv,
		Shutdown: func() { shutdown(errors.New("SHUTDOWN command")) },
	})
	if c.listens() {
		if err := srv.Listen(); err != nil {
			fmt.Fprintf(stderr, "sessiond: %s\n", describe(err))
			if node != nil {
				node.Close()
			}
			store.Close()
			return exitFailed
		}
	}
	log.Info("sessiond started",
		"version", version(),
		"go", runtime.Version(),
		"pid", os.Getpid(),
		"config", c.File,
		"maxmemory", c.MaxMemory,
		"maxmemory-policy", c.Policy.String(),
		"max-value-size", c.MaxValueSize,
		"dir", c.Dir,
		"appendfsync", c.AppendFsync.String(),
	)
	if c.Dir == "" {
		log.Warn("sessions are kept in memory only and will not survive a restart: set --dir to keep them")
	}

	serveErr := make(chan error, 1)
	if c.listens() {
		go func() { serveErr <- srv.Serve() }()
	}
	if web != nil {
		web.Serving(srv)
	}
	loaded := store.Loaded()
	for waiting := true; waiting; {
		select {
		case <-loaded:
			loaded = nil
			if err := store.LoadError(); err != nil {
				log.Error("sessiond: cannot load the data directory; nothing in it was changed", "dir", c.Dir, "err", err)
				srv.Shutdown(context.Background())
				store.Close()
				return exitFailed
			}
			continue
		case <-ctx.Done():
		case err := <-serveErr:
			log.Error("sessiond: serving failed", "err", err)
			if node != nil {
				node.Close()
			}
			store.Close()
			return exitFailed
		}
		waiting = false
	}
	// Say not ready, stop accepting, let connections finish what they
	// have read, hand the peers what they have not acknowledged and say
	// goodbye, then close the store.
	if web != nil {
		web.Stopping()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("connections still open at the shutdown timeout were closed", "timeout", shutdownTimeout)
	}
	cancel()
	if node != nil {
		if err := node.Leave(leaveTimeout); err != nil {
			log.Warn("leaving the cluster", "err", err)
		}
	}
	stats := store.Stats()
	if err := store.Close(); err != nil {
		log.Error("sessiond: cannot close the store", "err", err)
		return exitFailed
	}
	log.Info("sessiond stopped", "cause", context.Cause(ctx).Error(), "keys", stats.Keys)
	return exitOK
}

// shutdownTimeout bounds how long a stop waits for connections to finish
// the commands they have read.
const shutdownTimeout = 10 * time.Second

// leaveTimeout bounds how long a stop waits for peers to acknowledge the
// last changes and to hear the goodbye.
const leaveTimeout = 5 * time.Second

// gcPercent is the GOGC sessiond runs with unless the user sets GOGC.
//
// The store keeps its records in mmap'd slabs, off the Go heap, so the heap
// holds little besides the index and per-request garbage, and the
// collector's work per cycle is small whatever the number of sessions. That
// leaves no reason to trade memory for fewer cycles (a higher GOGC) or CPU
// for a smaller heap (a lower one): Go's default stays until a benchmark
// says otherwise. No GOMEMLIMIT either: the runtime's limit does not count
// the slabs, so --maxmemory cannot be turned into one.
const gcPercent = 100

// setGC applies gcPercent unless GOGC is set, which always wins.
func setGC(lookupEnv func(string) (string, bool)) {
	if _, ok := lookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
}
