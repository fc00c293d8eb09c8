// Package server serves a sessiond store over the Redis protocol (RESP2 and
// RESP3) on TCP, in the clear or over TLS, and a Unix socket, so that the
// session stores people already use (connect-redis, koa-redis, go-redis,
// scs, gorilla) work unchanged; and,
// when configured, over the memcached text protocol on the same store, for
// the stores built on memcached (connect-memcached, gomemcache).
//
// One goroutine serves each connection: it reads every command the client
// has sent, executes them in order, and flushes the replies once, when it
// would otherwise wait for input, so a pipelined batch costs one read and
// one write.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/eventloop"
	"github.com/sessiond/sessiond/internal/memcache"
)

// Config configures a Server. Zero fields take the defaults given.
type Config struct {
	// Addr is the TCP address to listen on, host:port. Empty: no TCP.
	Addr string
	// Unix is the path of a Unix socket to listen on. Empty: none.
	Unix string
	// UnixPerm is the socket's permission bits. If zero, 0600.
	UnixPerm os.FileMode

	// TLSAddr is the TCP address to serve the Redis protocol over TLS
	// on, host:port, with TLSConfig. Empty: no TLS.
	TLSAddr string
	// TLSConfig is the TLS listener's configuration: its certificates,
	// and whether clients must present one (ClientAuth). Its MinVersion
	// is raised to TLS 1.2. The server does not change it.
	TLSConfig *tls.Config
	// TLSHandshakeTimeout bounds a TLS client's handshake: a client that
	// has not finished it by then is disconnected. If zero, 10 seconds.
	TLSHandshakeTimeout time.Duration

	// MemcacheAddr is the TCP address to serve the memcached text
	// protocol on, host:port. Empty: none.
	MemcacheAddr string
	// MemcacheUnix is the path of a Unix socket to serve the memcached
	// text protocol on, created with UnixPerm. Empty: none.
	MemcacheUnix string
	// MemcacheInsecure lets MemcacheAddr be a non-loopback address while
	// RequirePass is set. The memcached text protocol has no
	// authentication: whoever reaches that port bypasses the password.
	MemcacheInsecure bool

	// RequirePass, if set, is the password clients must give with AUTH
	// or HELLO before any other command.
	RequirePass string
	// ProtectedModeOff serves clients from other hosts when RequirePass
	// is empty. By default the server is in protected mode, as Redis is:
	// with no password, a TCP client that is not on a loopback address
	// gets an error (-DENIED over RESP, SERVER_ERROR over memcached)
	// saying why, and is disconnected.
	ProtectedModeOff bool

	// MaxClients is the most connections served at once; one more gets
	// an error and is closed. If zero, 10,000.
	MaxClients int
	// Timeout closes a connection idle for that long. Zero: never.
	Timeout time.Duration
	// WriteTimeout closes a connection that does not read its replies:
	// a write blocked for that long fails. If zero, 30 seconds.
	WriteTimeout time.Duration

	// MaxArgs is the most arguments one command may have. If zero,
	// 1,048,576 (a DEL of every session a store's clear() found).
	MaxArgs int
	// MaxBulk is the longest argument in bytes. If zero, the larger of the
	// store's max value size and its max key size, plus 1 KiB.
	MaxBulk int
	// MaxCommand is the most bytes one command may take. If zero, the
	// larger of 64 MiB and 2 MaxBulk.
	MaxCommand int

	// Logger receives the server's logs. If nil, slog.Default().
	Logger *slog.Logger

	// Version is sessiond's version, for INFO and HELLO.
	Version string

	// Settings are extra values CONFIG GET reports (name to value), such
	// as the binary's flags. Where the server reports a name itself
	// (maxmemory, dir, ...), its own value, in Redis's form, wins.
	Settings map[string]string

	// Cluster is the cluster the store is a member of, if any: for WAIT,
	// DEBUG DIGEST and INFO.
	Cluster Cluster

	// Shutdown, if set, is called by the SHUTDOWN command to stop the
	// process as a signal would. If nil, SHUTDOWN is refused.
	Shutdown func()

	// EventLoops, if positive and on Linux, is the number of event loops
	// that serve RESP connections, as Redis's does: a goroutine waits on
	// the sockets of many connections (one epoll set, itself in Go's
	// poller) and serves each one with input, so that a request costs one
	// read and one write (over TCP; a Unix socket one read more), and a
	// wake-up serves every connection ready.
	// A connection leaves its loop for a goroutine of its own
	// for commands that can wait or answer at length, and when it does
	// not read its replies. Zero: a goroutine serves each connection
	// (and so everywhere but on Linux). The sessiond command runs one
	// loop by default: it costs less CPU per request than goroutines at
	// the loads servers mostly run at (docs/BENCHMARKS.md).
	EventLoops int

	// SlowlogSlowerThan is how long a command must take to go in the
	// slow log (SLOWLOG GET). Zero: 10 ms, Redis's default; negative:
	// no slow log. Redis's slowlog-log-slower-than 0, every command, is
	// 1ns here.
	SlowlogSlowerThan time.Duration
	// SlowlogMaxLen is the most entries the slow log keeps. If zero, 128.
	SlowlogMaxLen int
	// LatencyMonitorThreshold, if positive, is how long a command must
	// take for LATENCY LATEST and LATENCY HISTORY to record it, as
	// Redis's latency-monitor-threshold. Zero: the monitor is off.
	LatencyMonitorThreshold time.Duration

	// WritesWait says that a write waits for replicas (sync
	// replication): a connection then leaves its event loop for a
	// goroutine at its first write, which would stall the loop.
	WritesWait bool
}

// Server serves one store.
type Server struct {
	st      *sessiond.Store
	cfg     Config
	log     *slog.Logger
	cmds    map[string]*command
	cmdList []*command // cmds in the table's order

	cmdStats *cmdStats      // each command's calls and time (cmdstats.go)
	slowlog  slowlog        // SLOWLOG
	latency  latencyMonitor // LATENCY

	mu        sync.Mutex
	listeners []listener
	conns     map[*conn]struct{}
	closing   bool
	wg        sync.WaitGroup
	loops     *eventloop.Group // nil: goroutines serve every connection

	nextID    atomic.Int64
	clients   atomic.Int64
	started   time.Time
	now       atomic.Int64 // coarse clock, unix ns; see coarseNow
	stats     stats
	storeOpts sessiond.Options // st.Options(), read once
	mc        mcState
	ready     atomic.Bool // the store has loaded its data directory
	replID    string      // INFO's master_replid, new at each start as in Redis
	tls       tlsState
	// commitReplies: the store defers its log writes (DeferWrites), and
	// a connection calls its Commit before replies to changes go out.
	commitReplies bool

	mon monitors // the connections that ran MONITOR
}

// stats are the counters INFO reports.
type stats struct {
	connections atomic.Int64 // accepted in all
	rejected    atomic.Int64 // refused for maxclients
	denied      atomic.Int64 // refused by protected mode
	closed      connStats    // the counts of connections that have closed
	// The store's expirations and evictions at the last CONFIG
	// RESETSTAT, which INFO's expired_keys and evicted_keys count from.
	expiredBase, evictedBase atomic.Int64
}

// connStats are a connection's counters. Each connection counts its own,
// so that no cache line is shared by every request on every core; INFO
// adds them up.
type connStats struct {
	commands atomic.Int64
	hits     atomic.Int64
	misses   atomic.Int64
	netIn    atomic.Int64
	netOut   atomic.Int64
}

func (a *connStats) add(b *connStats) {
	a.commands.Add(b.commands.Load())
	a.hits.Add(b.hits.Load())
	a.misses.Add(b.misses.Load())
	a.netIn.Add(b.netIn.Load())
	a.netOut.Add(b.netOut.Load())
}

func (a *connStats) reset() {
	a.commands.Store(0)
	a.hits.Store(0)
	a.misses.Store(0)
	a.netIn.Store(0)
	a.netOut.Store(0)
}

// connTotals are the counters of every connection, open or closed.
type connTotals struct {
	all    connStats  // what both protocols count
	mc     mcCounters // memcached's own counts
	mcOpen int        // memcached connections open
}

// totals adds up the counters of every connection, open or closed.
func (s *Server) totals() *connTotals {
	t := &connTotals{}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.all.add(&s.stats.closed)
	t.mc.add(&s.mc.closed)
	for c := range s.conns {
		t.all.add(&c.stats)
		if m, ok := c.proto.(*mcConn); ok {
			t.mc.add(m.counters())
			t.mcOpen++
		}
	}
	return t
}

// resetStats zeroes the counters one protocol resets: RESP's CONFIG
// RESETSTAT those every connection keeps, memcached's stats reset its own.
func (s *Server) resetStats(memcache bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if memcache {
		s.mc.closed.reset()
		s.mc.total.Store(0)
	} else {
		s.cmdStats.reset()
		s.stats.closed.reset()
		s.stats.connections.Store(0)
		s.stats.rejected.Store(0)
		s.stats.denied.Store(0)
		st := s.st.Stats()
		s.stats.expiredBase.Store(st.Expirations)
		s.stats.evictedBase.Store(st.Evictions)
	}
	for c := range s.conns {
		switch m, ok := c.proto.(*mcConn); {
		case !memcache:
			c.stats.reset()
			if ok {
				// The traffic memcached's stats report is counted
				// from its last reset: it starts again with the
				// counts, or it would go negative.
				m.inBase.Store(0)
				m.outBase.Store(0)
			}
		case ok:
			m.counts.reset()
			m.inBase.Store(m.stats.netIn.Load())
			m.outBase.Store(m.stats.netOut.Load())
		}
	}
}

// New returns a server for st. The store's settings, for INFO, CONFIG GET
// and the limits of a command, are read from st (Store.Options).
func New(st *sessiond.Store, cfg Config) *Server {
	if cfg.UnixPerm == 0 {
		cfg.UnixPerm = 0o600
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 10000
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.MaxArgs <= 0 {
		cfg.MaxArgs = 1 << 20
	}
	var o sessiond.Options
	if st != nil {
		o = st.Options()
	}
	if cfg.MaxBulk <= 0 {
		cfg.MaxBulk = max(o.MaxValueSize, sessiond.MaxKeySize) + 1<<10
	}
	if cfg.MaxCommand <= 0 {
		cfg.MaxCommand = max(64<<20, 2*cfg.MaxBulk)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TLSHandshakeTimeout <= 0 {
		cfg.TLSHandshakeTimeout = 10 * time.Second
	}
	if cfg.Version == "" {
		cfg.Version = "devel"
	}
	s := &Server{
		st:        st,
		cfg:       cfg,
		log:       cfg.Logger,
		conns:     map[*conn]struct{}{},
		started:   time.Now(),
		storeOpts: o,
		replID:    newReplID(),
	}
	s.tls.init(cfg.TLSConfig)
	s.cmds, s.cmdList = commandTable()
	s.cmdStats = newCmdStats(len(s.cmdList), memcache.Ops)
	for i, c := range s.cmdList {
		c.stat = s.cmdStats.redis[i]
	}
	s.slowlog.init(cfg.SlowlogSlowerThan, cfg.SlowlogMaxLen)
	s.latency.init(cfg.LatencyMonitorThreshold)
	s.watchLoad()
	// A store that defers its writes must see Commit before a reply.
	s.commitReplies = o.DeferWrites
	s.now.Store(time.Now().UnixNano())
	return s
}

// coarseClockTick is how often the coarse clock moves.
const coarseClockTick = 100 * time.Millisecond

// coarseNow returns the time to within coarseClockTick, without reading
// the system clock: for deadlines measured in seconds, which are moved on
// every reply.
func (s *Server) coarseNow() time.Time { return time.Unix(0, s.now.Load()) }

func (s *Server) runClock(stop <-chan struct{}) {
	t := time.NewTicker(coarseClockTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.now.Store(now.UnixNano())
		}
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Listen opens the configured listeners, so that an address in use or a
// live socket is reported before anything is served. It logs a line per
// listener with the address it got (an ephemeral port is resolved).
func (s *Server) Listen() error {
	c := s.cfg
	if c.Addr == "" && c.Unix == "" && c.MemcacheAddr == "" && c.MemcacheUnix == "" && c.TLSAddr == "" {
		return errors.New("server: no listener configured (set an address or a Unix socket)")
	}
	if err := s.checkMemcacheAddr(); err != nil {
		return err
	}
	if c.TLSAddr != "" && c.TLSConfig == nil {
		return errors.New("server: TLSAddr is set without a TLSConfig")
	}
	s.warnUnprotected()
	for _, l := range []struct {
		network, addr string
		proto         *protocol
	}{
		{"tcp", c.Addr, respProtocol},
		{"unix", c.Unix, respProtocol},
		{"tcp", c.MemcacheAddr, memcacheProtocol},
		{"unix", c.MemcacheUnix, memcacheProtocol},
	} {
		if l.addr == "" {
			continue
		}
		nl, err := listen(l.network, l.addr, c.UnixPerm)
		if err != nil {
			s.closeListeners()
			return &ListenError{Proto: l.proto.name, Network: l.network, Addr: l.addr, Err: err}
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, listener{nl, l.proto, nil})
		s.mu.Unlock()
		s.log.Info("listening", "proto", l.proto.name, "network", nl.Addr().Network(), "addr", nl.Addr().String())
	}
	if c.TLSAddr != "" {
		if err := s.listenTLS(); err != nil {
			s.closeListeners()
			return err
		}
	}
	return nil
}

func listen(network, addr string, perm os.FileMode) (net.Listener, error) {
	if network == "unix" {
		return listenUnix(addr, perm)
	}
	return net.Listen(network, addr)
}

// A listener is a listening socket and the protocol it serves.
type listener struct {
	net.Listener
	proto *protocol
	tls   *tls.Config // over TLS, with this configuration; nil: in the clear
}

// A protocol is what a listener serves.
type protocol struct {
	name    string // in logs: resp or memcache
	tooMany string // the reply to a connection past MaxClients
	denied  string // the reply to a connection protected mode refuses
	// open makes the connection for nc.
	open func(s *Server, nc net.Conn) *conn
}

var respProtocol = &protocol{
	name:    "resp",
	tooMany: "-ERR max number of clients reached\r\n",
	denied:  deniedRESP,
	open:    func(s *Server, nc net.Conn) *conn { return newRESPConn(s, nc).conn },
}

// Addrs returns the addresses the server serves the Redis protocol on.
func (s *Server) Addrs() []net.Addr { return s.addrs("resp") }

// MemcacheAddrs returns the addresses the server serves the memcached text
// protocol on.
func (s *Server) MemcacheAddrs() []net.Addr { return s.addrs("memcache") }

// addrs returns the addresses of the listeners of the protocol named proto.
func (s *Server) addrs(proto string) []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a []net.Addr
	for _, l := range s.listeners {
		if l.proto.name == proto && l.tls == nil {
			a = append(a, l.Addr())
		}
	}
	return a
}

// Serve accepts connections on the listeners Listen opened until Shutdown,
// and returns ErrServerClosed then.
func (s *Server) Serve() error {
	s.mu.Lock()
	ls := append([]listener(nil), s.listeners...)
	s.mu.Unlock()
	stop := make(chan struct{})
	defer close(stop)
	go s.runClock(stop)
	if loops := s.startLoops(); loops != nil {
		s.mu.Lock()
		if s.closing || s.loops != nil {
			loops.Stop()
		} else {
			s.loops = loops
		}
		s.mu.Unlock()
	}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- s.accept(l) }()
	}
	var first error
	for range ls {
		if err := <-errc; err != nil && first == nil && !errors.Is(err, ErrServerClosed) {
			first = err
			s.closeListeners()
		}
	}
	if first != nil {
		return first
	}
	return ErrServerClosed
}

// refuse sends a connection the server will not serve its one error line,
// within a second, and closes it.
func refuse(nc net.Conn, reply string) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(nc, reply)
	nc.Close()
}

func (s *Server) accept(l listener) error {
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				// Out of file descriptors and the like: back off
				// rather than spin, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("server: accept on %s: %w", l.Addr(), err)
		}
		delay = 0
		if l.tls != nil {
			// The handshake takes round trips: a goroutine of its
			// own does it, then serves the connection.
			if !s.handshake(l, nc) {
				return ErrServerClosed
			}
			continue
		}
		c, err := s.admit(l, nc)
		if err != nil {
			return err
		}
		if c != nil {
			go s.serveConn(c)
		}
	}
}

// admit applies protected mode and MaxClients to a connection l accepted
// and makes it one of the server's. It returns the connection for a
// goroutine to serve, or nil if it was refused or an event loop took it;
// ErrServerClosed if the server is shutting down.
func (s *Server) admit(l listener, nc net.Conn) (*conn, error) {
	s.stats.connections.Add(1)
	if s.protected() && l.Addr().Network() == "tcp" && !fromLocal(nc.RemoteAddr()) {
		// As in Redis, counted in total_connections_received, not
		// in rejected_connections (past maxclients only).
		s.stats.denied.Add(1)
		refuse(nc, l.proto.denied)
		return nil, nil
	}
	// Handshakes under way hold places too (tls.go), whatever listener
	// this client came from; a TLS client's own is over by now.
	if n := s.clients.Add(1); n+s.tls.handshakes.Load() > int64(s.cfg.MaxClients) {
		s.clients.Add(-1)
		s.stats.rejected.Add(1)
		refuse(nc, l.proto.tooMany)
		return nil, nil
	}
	c := l.proto.open(s, nc)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.clients.Add(-1)
		nc.Close()
		return nil, ErrServerClosed
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	loops := s.loops
	s.mu.Unlock()
	// An event loop reads the socket itself: a TLS connection, whose
	// bytes must go through crypto/tls, stays with a goroutine.
	if l.proto == respProtocol && l.tls == nil && loops != nil && attach(loops, c.proto.(*respConn)) {
		return nil, nil
	}
	return c, nil
}

// serveConn serves a connection admit returned until it closes.
func (s *Server) serveConn(c *conn) {
	defer s.connDone(c)
	c.serve()
}

// connDone forgets a connection that closed.
func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.stats.closed.add(&c.stats)
	if m, ok := c.proto.(*mcConn); ok {
		s.mc.closed.add(m.counters())
	}
	s.mu.Unlock()
	s.clients.Add(-1)
	s.wg.Done()
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		l.Close()
	}
}

// Shutdown stops accepting, lets every connection finish the commands it
// has read, flush its replies and close, and returns when all are done or
// ctx ends (then it closes the rest at once).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, l := range s.listeners {
		l.Close()
	}
	loops := s.loops
	s.mu.Unlock()
	s.tls.stopHandshakes()
	// Connections in event loops leave them for goroutines, which stop as
	// every other connection does.
	loops.Stop()
	s.mu.Lock()
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()
	s.stopFlush()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			socket(c.nc).Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
