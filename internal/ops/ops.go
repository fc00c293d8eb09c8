// Package ops serves the sessiond binary's HTTP endpoints for operators:
// Prometheus metrics, the health and readiness probes, the status page
// and its JSON, a user's sessions (list and revoke), and pprof when asked.
// It lives outside the root package so that an embedding program
// does not link the Prometheus client.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/server"
)

// Config is what the HTTP listener serves, and where.
type Config struct {
	// Addr is the TCP address to listen on, host:port.
	Addr string
	// Store is the store the binary serves.
	Store *sessiond.Store
	// Node is the cluster node; nil for a single server.
	Node *cluster.Node
	// RequirePass, if set, is asked of every request but the two
	// probes': as the password of HTTP basic authentication (any user
	// name) or as a bearer token.
	RequirePass string
	// Pprof serves /debug/pprof/.
	Pprof bool
	// Version is the binary's version, for sessiond_build_info.
	Version string
	// Logger receives the listener's errors.
	Logger *slog.Logger
}

// Server is the HTTP listener.
type Server struct {
	cfg      Config
	http     *http.Server
	ln       net.Listener
	srv      atomic.Pointer[server.Server] // the protocol server, once it listens
	stopping atomic.Bool

	// The status page's.
	name         string // this node's name; the host's for a single server
	started      time.Time
	policy       string // the page's Content-Security-Policy
	history      *history
	historyEvery time.Duration
	peerClient   *http.Client // fetches the members' figures
	stopSampling chan struct{}
	stopOnce     sync.Once
}

// New returns the listener for cfg, not yet listening.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, started: time.Now(), policy: pagePolicy(statusPage),
		history: newHistory(historyLen), historyEvery: historyEvery, peerClient: newPeerClient(),
		stopSampling: make(chan struct{})}
	s.name, _ = os.Hostname()
	if cfg.Node != nil {
		s.name = cfg.Node.Status().Name
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{s: s},
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})))
	mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.page)))
	mux.Handle("GET /status.json", s.auth(http.HandlerFunc(s.statusJSON)))
	mux.Handle("GET /status/node.json", s.auth(http.HandlerFunc(s.nodeJSON)))
	// Session ids: behind auth. A GET of /sessions/revoke is 405, by the mux.
	mux.Handle("GET /sessions", s.auth(http.HandlerFunc(s.userSessions)))
	mux.Handle("POST /sessions/revoke", s.auth(http.HandlerFunc(s.revokeSessions)))
	if cfg.Pprof {
		mux.Handle("GET /debug/pprof/", s.auth(http.HandlerFunc(pprof.Index)))
		mux.Handle("GET /debug/pprof/cmdline", s.auth(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("GET /debug/pprof/profile", s.auth(http.HandlerFunc(pprof.Profile)))
		mux.Handle("GET /debug/pprof/symbol", s.auth(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("GET /debug/pprof/trace", s.auth(http.HandlerFunc(pprof.Trace)))
	}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

// Listen opens the listener, and advertises its port to the cluster
// (cluster.Node.AdvertiseHTTP): best before the node starts.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ops: HTTP listener on %s (--http-addr): %w", s.cfg.Addr, err)
	}
	s.ln = ln
	if s.cfg.Node != nil {
		// The members' status pages fetch this node's figures there.
		if err := s.cfg.Node.AdvertiseHTTP(ln.Addr().(*net.TCPAddr).Port); err != nil {
			s.cfg.Logger.Warn("cannot advertise the HTTP listener to the cluster", "err", err)
		}
	}
	go s.sampleLoop(s.historyEvery, s.stopSampling)
	s.cfg.Logger.Info("listening", "proto", "http", "network", "tcp", "addr", ln.Addr().String(), "pprof", s.cfg.Pprof)
	return nil
}

// Addr is the address the listener is bound to, after Listen.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown; it returns nil then.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops: HTTP listener on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// Serving tells the listener that srv listens: /healthz then asks whether
// its listeners still accept, and the server's figures join the metrics.
// Until then /healthz says the process is starting (a join or a load may
// take a while), and /readyz that it is not ready.
func (s *Server) Serving(srv *server.Server) { s.srv.Store(srv) }

// Stopping makes /readyz answer 503 from now on: the process is shutting
// down, and a load balancer should send it nothing new.
func (s *Server) Stopping() { s.stopping.Store(true) }

// Shutdown stops the listener, letting requests under way finish until
// ctx ends (a profile may take 30 s), then closes their connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopSampling) })
	defer s.peerClient.CloseIdleConnections()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	return err
}
