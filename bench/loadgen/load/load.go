package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what load to generate. Every field but Addr has a default,
// used when the field is zero.
type Config struct {
	// Protocol is the protocol spoken: RESP or Memcache. If blank, it
	// defaults to RESP.
	Protocol Protocol
	// Network is "tcp" or "unix". If blank, it defaults to "tcp".
	Network string
	// Addr is host:port for tcp, where host must be a loopback address
	// or "localhost", or the socket's path for unix.
	Addr string
	// Conns is the number of connections, each driven by one goroutine.
	// If 0, it defaults to 50.
	Conns int
	// Pipeline is the number of commands sent per round trip. If 0, it
	// defaults to 1.
	Pipeline int
	// Op is the command to send. The zero value is OpSet.
	Op Op
	// ValueSize is the length of the values SET sends. If 0, it
	// defaults to 512.
	ValueSize int
	// ValueSpread, if positive, varies the length of each value an OpSet
	// sends, uniformly from ValueSize-ValueSpread to
	// ValueSize+ValueSpread bytes, as a session store's rewrites change
	// a session's size a little each time. If 0, every value is
	// ValueSize bytes.
	ValueSpread int
	// Keyspace is the number of distinct keys (key:00000000 on) that SET
	// and GET pick from uniformly at random. If 0, it defaults to 100,000.
	Keyspace int
	// Sequential makes SET and GET take keys in order, wrapping at
	// Keyspace, instead of at random: a Run of Keyspace SETs fills the
	// keyspace.
	Sequential bool
	// Users, if positive, is the number of users OpSession's sessions
	// belong to: the session of key number k names user number k mod
	// Users in passport.user (SessionUser), so that a run of n new
	// sessions gives each user n/Users of them. If 0, every session has
	// a user of its own, user number k.
	Users int
	// Rewrite makes OpSession rewrite the sessions of Keyspace keys (the
	// session ids of numbers 0 to Keyspace-1), taken at random or, with
	// Sequential, in order, as an app rewrites its sessions: each keeps
	// its user (Users), while its other variable fields (the cookie's
	// expiry, the CSRF secret, lastSeen, the cart) change with every
	// write. Without it, every OpSession is a new session.
	Rewrite bool
	// Seed seeds the random key choice, and offsets the numbering of
	// OpSession keys, so that two generators with different seeds write
	// different sessions.
	Seed uint64
	// DialTimeout bounds each connection attempt. If 0, it defaults to
	// 5 seconds.
	DialTimeout time.Duration
	// MaxDuration bounds every Run, whatever its arguments: a Run
	// bounded only by a count stops when it elapses. If 0, it defaults
	// to 10 minutes.
	MaxDuration time.Duration
	// Rate, if positive, is the load offered in commands per second over
	// all connections: each connection sends its round trips on a fixed
	// schedule, staggered from the others', instead of as soon as the
	// last reply came. Two servers are so compared at the same load, not
	// each at the most the generator can drive. A connection that falls
	// behind its schedule sends at once; latency is still timed from
	// the actual send. If 0, every connection runs flat out.
	Rate float64
}

func (c Config) withDefaults() (Config, error) {
	var err error
	if c.Protocol, err = ParseProtocol(string(c.Protocol)); err != nil {
		return c, err
	}
	if c.Network == "" {
		c.Network = "tcp"
	}
	if c.Conns == 0 {
		c.Conns = 50
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.ValueSize == 0 {
		c.ValueSize = 512
	}
	if c.Keyspace == 0 {
		c.Keyspace = 100_000
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = 10 * time.Minute
	}
	switch {
	case c.Conns < 0 || c.Conns > 10_000:
		return c, fmt.Errorf("load: conns %d: want 1 to 10000", c.Conns)
	case c.Pipeline < 0 || c.Pipeline > 10_000:
		return c, fmt.Errorf("load: pipeline %d: want 1 to 10000", c.Pipeline)
	case c.ValueSize < 0 || c.ValueSize > 64<<20:
		return c, fmt.Errorf("load: value size %d: want 1 to 64 MiB", c.ValueSize)
	case c.ValueSpread < 0 || c.ValueSpread > c.ValueSize || c.ValueSpread > 4096:
		return c, fmt.Errorf("load: value spread %d: want 0 to the value size %d, at most 4096", c.ValueSpread, c.ValueSize)
	case c.Keyspace < 0 || c.Keyspace > MaxKeyspace:
		return c, fmt.Errorf("load: keyspace %d: want 1 to %d", c.Keyspace, MaxKeyspace)
	case c.Op < OpSet || c.Op > OpSession:
		return c, fmt.Errorf("load: %v: unknown op", c.Op)
	case c.Users < 0 || c.Users > MaxKeyspace:
		return c, fmt.Errorf("load: users %d: want 0 (one per session) to %d", c.Users, MaxKeyspace)
	case (c.Users > 0 || c.Rewrite) && c.Op != OpSession:
		return c, fmt.Errorf("load: users and rewrite are for session writes, not %v", c.Op)
	case c.Rate < 0 || c.Rate > maxRate:
		return c, fmt.Errorf("load: rate %g: want 0 (flat out) to %g commands/s", c.Rate, float64(maxRate))
	}
	return c, checkLocal(c.Network, c.Addr)
}

// userOf returns the number of the user session number k belongs to.
func (c Config) userOf(k uint64) uint64 {
	if c.Users > 0 {
		return k % uint64(c.Users)
	}
	return k
}

// maxRate bounds Config.Rate: far beyond what one machine's loopback
// carries.
const maxRate = 100_000_000

// interval returns the time between a connection's round trips at the
// configured rate, or 0 for none.
func (c Config) interval() time.Duration {
	if c.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) * float64(c.Conns*c.Pipeline) / c.Rate)
}

// ErrNotLocal is returned for an address that is neither loopback nor a
// Unix socket.
var ErrNotLocal = errors.New("load: only loopback addresses and Unix sockets are allowed")

// checkLocal refuses any target but loopback and Unix sockets.
func checkLocal(network, addr string) error {
	switch network {
	case "unix":
		if addr == "" {
			return fmt.Errorf("load: unix socket path is empty")
		}
		return nil
	case "tcp", "tcp4", "tcp6":
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("load: address %q: %w", addr, err)
		}
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%w: %q", ErrNotLocal, addr)
	}
	return fmt.Errorf("load: network %q: want tcp or unix", network)
}

// Result is what one Run measured.
type Result struct {
	Op       Op
	Conns    int
	Pipeline int
	// Ops is the number of commands that got a reply, Batches the
	// number of round trips.
	Ops, Batches int64
	// Elapsed is the time from the start of the Run until its last
	// reply.
	Elapsed time.Duration
	// Errors is the number of error replies (and replies of the wrong
	// type); FirstError is the first one's text.
	Errors     int64
	FirstError string
	// Misses is the number of GETs answered with a null.
	Misses int64
	// Latency holds one sample per round trip: at pipeline depth P, the
	// time to send P commands and read their P replies.
	Latency Histogram
}

// OpsPerSec returns the throughput in commands per second.
func (r *Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Generator holds the open connections of one load configuration.
type Generator struct {
	cfg   Config
	conns []*conn
	seq   atomic.Uint64 // next key number of Sequential and OpSession runs
	// stored is the one status a successful set may answer ("" for
	// RESP, where any simple string counts).
	stored string
}

type conn struct {
	nc    net.Conn
	rd    replyReader
	batch *batch
	rng   *rand.Rand
}

// replyReader reads one reply of the protocol spoken: a *Reader or a
// *MemcacheReader.
type replyReader interface {
	Read() (Reply, error)
}

func newReplyReader(proto Protocol, br *bufio.Reader) replyReader {
	if proto == Memcache {
		return NewMemcacheReader(br)
	}
	return NewReader(br)
}

// Dial opens cfg.Conns connections to the server.
func Dial(ctx context.Context, cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg}
	if cfg.Protocol == Memcache && cfg.Op != OpGet {
		g.stored = "STORED"
	}
	d := net.Dialer{Timeout: cfg.DialTimeout}
	for i := range cfg.Conns {
		nc, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("load: connection %d: %w", i, err)
		}
		// Large enough for 16 replies of 512-byte values in one read.
		br := bufio.NewReaderSize(nc, 64<<10)
		g.conns = append(g.conns, &conn{
			nc:    nc,
			rd:    newReplyReader(cfg.Protocol, br),
			batch: newBatch(cfg.Protocol, cfg.Op, cfg.Pipeline, cfg.ValueSize, cfg.ValueSpread),
			rng:   rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
		})
	}
	return g, nil
}

// Config returns the generator's configuration, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Close closes every connection.
func (g *Generator) Close() error {
	var first error
	for _, c := range g.conns {
		if err := c.nc.Close(); err != nil && first == nil {
			first = err
		}
	}
	g.conns = nil
	return first
}

// Run sends load for duration d or until n commands got replies,
// whichever comes first; a zero d or n means no bound of that kind, and at
// least one must be set. It returns when every connection has stopped:
// each finishes the round trip it has started. An I/O or protocol error on
// any connection stops the Run and is returned with what was measured.
func (g *Generator) Run(ctx context.Context, d time.Duration, n int64) (Result, error) {
	if d <= 0 && n <= 0 {
		return Result{}, errors.New("load: a run needs a duration or an operation count")
	}
	if len(g.conns) == 0 {
		return Result{}, errors.New("load: generator is closed")
	}
	cfg := g.cfg
	if d <= 0 || d > cfg.MaxDuration {
		d = cfg.MaxDuration
	}
	start := time.Now()
	deadline := start.Add(d)
	for _, c := range g.conns {
		// Grace for the last round trip; a server that stalls longer
		// fails the run instead of hanging it.
		if err := c.nc.SetDeadline(deadline.Add(10 * time.Second)); err != nil {
			return Result{}, err
		}
	}

	// A cancelled context unblocks every connection at once.
	unblock := context.AfterFunc(ctx, func() {
		for _, c := range g.conns {
			c.nc.SetDeadline(time.Now())
		}
	})
	defer unblock()

	var (
		reserved atomic.Int64 // commands handed out, for the count bound
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		parts    = make([]Result, len(g.conns))
	)
	for i, c := range g.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The connections' schedules are staggered evenly over one
			// interval, so that they do not send in bursts.
			next := start.Add(cfg.interval() * time.Duration(i) / time.Duration(len(g.conns)))
			err := g.drive(ctx, c, &parts[i], next, deadline, n, &reserved, &stop)
			if err != nil {
				stop.Store(true)
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("load: connection %d: %w", i, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res := Result{Op: cfg.Op, Conns: cfg.Conns, Pipeline: cfg.Pipeline, Elapsed: time.Since(start)}
	for i := range parts {
		p := &parts[i]
		res.Ops += p.Ops
		res.Batches += p.Batches
		res.Errors += p.Errors
		res.Misses += p.Misses
		if res.FirstError == "" {
			res.FirstError = p.FirstError
		}
		res.Latency.Merge(&p.Latency)
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

// drive runs one connection's loop until the deadline, the count bound,
// the context or another connection's failure stops it. With a rate, its
// first round trip starts at next.
func (g *Generator) drive(ctx context.Context, c *conn, res *Result, next, deadline time.Time, n int64, reserved *atomic.Int64, stop *atomic.Bool) error {
	cfg := g.cfg
	p := cfg.Pipeline
	interval := cfg.interval()
	var pace *time.Timer
	if interval > 0 {
		pace = time.NewTimer(time.Hour)
		defer pace.Stop()
	}
	for !stop.Load() && ctx.Err() == nil {
		if interval > 0 {
			if !next.Before(deadline) {
				return nil
			}
			if wait := time.Until(next); wait > 0 {
				pace.Reset(wait)
				select {
				case <-pace.C:
				case <-ctx.Done():
					return nil
				}
			}
			next = next.Add(interval)
		}
		k := p
		if n > 0 {
			end := reserved.Add(int64(p))
			if over := end - n; over > 0 {
				k = p - int(over)
			}
			if k <= 0 {
				return nil
			}
		}
		c.batch.vary(k, c.rng)
		switch {
		case cfg.Op == OpSession && cfg.Rewrite:
			first := g.seq.Add(uint64(k)) - uint64(k)
			for i := range k {
				key := c.rng.Uint64N(uint64(cfg.Keyspace))
				if cfg.Sequential {
					key = (first + uint64(i)) % uint64(cfg.Keyspace)
				}
				c.batch.setSession(i, key, c.rng.Uint64(), cfg.userOf(key))
			}
		case cfg.Op == OpSession:
			first := g.seq.Add(uint64(k)) - uint64(k) + cfg.Seed<<40
			for i := range k {
				n := first + uint64(i)
				c.batch.setSession(i, n, n, cfg.userOf(n))
			}
		case cfg.Sequential:
			first := g.seq.Add(uint64(k)) - uint64(k)
			for i := range k {
				c.batch.setKey(cfg.Op, i, (first+uint64(i))%uint64(cfg.Keyspace))
			}
		default:
			for i := range k {
				c.batch.setKey(cfg.Op, i, c.rng.Uint64N(uint64(cfg.Keyspace)))
			}
		}

		t0 := time.Now()
		if _, err := c.nc.Write(c.batch.upTo(k)); err != nil {
			return err
		}
		for range k {
			rep, err := c.rd.Read()
			if err != nil {
				return err
			}
			g.check(res, rep)
		}
		t1 := time.Now()
		res.Latency.Record(t1.Sub(t0))
		res.Batches++
		res.Ops += int64(k)
		if !t1.Before(deadline) {
			return nil
		}
	}
	return nil
}

// RunOnce dials cfg's connections, sends n commands, and closes them: for
// the fill before a benchmark. Error replies make it fail.
func RunOnce(ctx context.Context, cfg Config, n int64) (Result, error) {
	g, err := Dial(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer g.Close()
	res, err := g.Run(ctx, 0, n)
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("load: %d error replies (first: %s)", res.Errors, res.FirstError)
	}
	return res, err
}

// check counts an error reply, a reply of the wrong type, or a miss.
func (g *Generator) check(res *Result, rep Reply) {
	want := byte('+')
	if g.cfg.Op == OpGet {
		want = '$'
	}
	switch {
	case rep.IsError():
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = rep.Err
		}
	case rep.Kind != want:
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = fmt.Sprintf("unexpected reply type %q to %v", rep.Kind, g.cfg.Op)
		}
	case g.stored != "" && rep.Text != g.stored:
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = fmt.Sprintf("unexpected reply %q to %v", rep.Text, g.cfg.Op)
		}
	case rep.Kind == '$' && rep.Len < 0:
		res.Misses++
	}
}

// Do sends one RESP command on a new connection and returns its reply:
// for readiness checks and small queries (DBSIZE, FLUSHALL) around a
// benchmark. The same loopback rule as Dial applies.
func Do(ctx context.Context, network, addr string, args ...string) (Reply, error) {
	return do(ctx, RESP, network, addr, AppendCommand(nil, args...))
}

// DoMemcache is Do for the memcached text protocol: it sends args joined
// by spaces as one command line (version, flush_all, get k), so a command
// with a data block cannot be sent.
func DoMemcache(ctx context.Context, network, addr string, args ...string) (Reply, error) {
	return do(ctx, Memcache, network, addr, []byte(strings.Join(args, " ")+"\r\n"))
}

func do(ctx context.Context, proto Protocol, network, addr string, cmd []byte) (Reply, error) {
	if err := checkLocal(network, addr); err != nil {
		return Reply{}, err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return Reply{}, err
	}
	defer nc.Close()
	dl := time.Now().Add(30 * time.Second)
	if t, ok := ctx.Deadline(); ok && t.Before(dl) {
		dl = t
	}
	if err := nc.SetDeadline(dl); err != nil {
		return Reply{}, err
	}
	if _, err := nc.Write(cmd); err != nil {
		return Reply{}, err
	}
	return newReplyReader(proto, bufio.NewReader(nc)).Read()
}
