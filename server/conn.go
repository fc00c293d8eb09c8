package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sessiond/sessiond/internal/eventloop"
)

// conn is one client connection, of either protocol: what both share (the
// socket, the reply scratch buffer, counters, deadlines and stop), so that
// limits, INFO, CLIENT LIST and shutdown treat both alike. Its proto is the
// protocol's half, which reads and runs the commands: a *respConn or an
// *mcConn, each of which embeds the conn.
type conn struct {
	s     *Server
	proto protocolConn
	nc    net.Conn
	in    io.Reader // nc, or raw I/O on it
	out   io.Writer // likewise

	raddr, laddr net.Addr          // nc's, kept for CLIENT LIST: nc changes when a connection leaves an event loop
	sock         *eventloop.Socket // nc while an event loop serves the connection; nil when a goroutine does

	id      int64
	created time.Time
	meta    atomic.Pointer[clientMeta]
	quit    bool // close after the replies are flushed

	// lastCmd is the last command's name, for CLIENT LIST's cmd=.
	lastCmd atomic.Pointer[string]
	// killer closes the connection from any goroutine (CLIENT KILL): its
	// socket's close, or its event loop's Kill. killed is set first, so
	// that a connection leaving its loop as it is killed closes too
	// (loopConn.Resume).
	killer atomic.Pointer[func()]
	killed atomic.Bool
	// monitoring: the connection ran MONITOR. CLIENT LIST shows it with
	// flags=O, as Redis does.
	monitoring atomic.Bool

	// uncommitted is set by a command that changes data, when the store
	// defers its log writes to the server (commitReplies): the next
	// reply bytes wait for the store's Commit, so that nothing is
	// acknowledged before it is in the log (and, under appendfsync
	// always, on the disk).
	uncommitted bool

	scratch []byte // reused buffer for values on their way out

	deadlineSet time.Time // when the write deadline was last moved

	stats connStats
	// tick is when the connection's last command ended, or its last
	// read returned if later (Server.mono): the start of the next
	// command's time (cmdstats.go).
	tick time.Duration
	// failed is set by an error reply to the command running.
	failed cmdOutcome
	// stalled is the time spent writing replies while a command ran
	// (running), in all: a command's time leaves out what it spent
	// waiting for the client to read. Writes between commands (a batch's
	// replies, flushed when the connection waits for input) are no
	// command's time and are not timed.
	stalled time.Duration
	running bool

	stopOnce sync.Once
	stopped  chan struct{}
	// ended is closed when the connection is stopped or killed: what a
	// command that waits (WAIT) gives up on.
	endOnce sync.Once
	ended   chan struct{}
}

// protocolConn is a protocol's half of a connection: its reader, writer
// and commands.
type protocolConn interface {
	// next reads one command and runs it.
	next() error
	// readFailed answers err, next's, if the protocol has an answer to
	// it, and reports whether the connection goes on.
	readFailed(err error) bool
	// flush sends the replies written so far.
	flush() error
	// writeErr is the error that ended writing, if any.
	writeErr() error
	// shrink gives back the buffers a large command grew.
	shrink()
}

// newConn returns the shared half of a connection on nc, with the client
// metadata meta.
func newConn(s *Server, nc net.Conn, meta clientMeta) *conn {
	c := &conn{
		s:       s,
		id:      s.nextID.Add(1),
		created: time.Now(),
		stopped: make(chan struct{}),
		ended:   make(chan struct{}),
	}
	c.raddr, c.laddr = nc.RemoteAddr(), nc.LocalAddr()
	c.setIO(nc)
	closeNC := func() { nc.Close() }
	c.killer.Store(&closeNC)
	c.meta.Store(&meta)
	return c
}

// input is what a protocol's reader reads: the connection's current
// input, counted for INFO.
func (c *conn) input() io.Reader { return countingReader{connIn{c}, &c.stats.netIn} }

// setIO makes nc the connection's, reading and writing it with raw system
// calls where it can.
func (c *conn) setIO(nc net.Conn) {
	c.nc = nc
	if raw := newRawIO(nc); raw != nil {
		c.in, c.out = raw, raw
	} else {
		c.in, c.out = nc, nc
	}
}

// connIn reads from the connection's current input, which changes when the
// connection leaves an event loop, under the reader's buffer.
type connIn struct{ c *conn }

func (r connIn) Read(p []byte) (int, error) { return r.c.in.Read(p) }

// countingReader counts the bytes read, for INFO.
type countingReader struct {
	r io.Reader
	n interface{ Add(int64) int64 }
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// deadlineWriter writes with the write timeout, so that a client that
// does not read its replies is closed instead of holding the server.
type deadlineWriter struct{ c *conn }

// Setting a deadline on every flush would read the clock and reset a timer
// per reply; instead the deadline is moved forward, from the server's
// coarse clock, only once half the timeout has gone by. A write can so
// block for between half the timeout and the whole of it.
func (d deadlineWriter) Write(p []byte) (int, error) {
	c := d.c
	if c.uncommitted {
		// One write (and one flush) for every change the batch made,
		// before any of its replies goes out.
		c.uncommitted = false
		if err := c.s.st.Commit(); err != nil {
			c.s.log.Debug("closing a connection: its changes did not reach the disk", "id", c.id, "err", err)
			return 0, err
		}
	}
	now := c.s.coarseNow()
	if now.After(c.deadlineSet.Add(c.s.cfg.WriteTimeout / 2)) {
		c.nc.SetWriteDeadline(now.Add(c.s.cfg.WriteTimeout))
		c.deadlineSet = now
	}
	if !c.running {
		n, err := c.out.Write(p)
		c.stats.netOut.Add(int64(n))
		return n, err
	}
	// A reply too large for the buffer, written while its command runs:
	// the wait for the client is not the command's time, as in Redis,
	// which writes outside call().
	t0 := c.s.mono()
	n, err := c.out.Write(p)
	c.stalled += c.s.mono() - t0
	c.stats.netOut.Add(int64(n))
	return n, err
}

// beforeRead runs when the connection would wait for input: the batch of
// commands it sent is done, so its replies go out now.
func (c *conn) beforeRead() error {
	if c.sock != nil && c.s.commitReplies && !c.quit && c.sock.Defer() {
		// The loop's round ends with one write of the log for every
		// connection it served, as Redis's loop writes its AOF buffer,
		// then sends their replies (loopConn.Flush).
		return nil
	}
	if err := c.proto.flush(); err != nil {
		return err
	}
	c.proto.shrink()
	// The deadline first, then the check: stop sets a deadline of now
	// after closing stopped, so whichever runs second, a stopping
	// connection does not wait out the idle timeout.
	if c.s.cfg.Timeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.Timeout))
	}
	if c.stopping() {
		return errStopped
	}
	return nil
}

var errStopped = errors.New("server shutting down")

// stop asks the connection to close once it has answered the commands it
// has read. A connection blocked reading is woken at once.
func (c *conn) stop() {
	c.end()
	c.stopOnce.Do(func() {
		close(c.stopped)
		c.nc.SetReadDeadline(time.Now())
	})
}

// end closes ended.
func (c *conn) end() { c.endOnce.Do(func() { close(c.ended) }) }

// stopping reports whether Shutdown has asked the connection to close.
func (c *conn) stopping() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}

// serve reads and runs the connection's commands until it closes.
func (c *conn) serve() {
	defer c.close()
	c.run()
}

// run reads and runs commands, flushing each batch's replies when it would
// wait for more, until the client goes, a reply cannot be written or the
// client quits.
func (c *conn) run() {
	for !c.quit {
		if err := c.proto.next(); err != nil {
			if c.proto.readFailed(err) {
				continue
			}
			return
		}
		if c.proto.writeErr() != nil {
			return
		}
	}
	c.proto.flush()
}

// trimScratch lets go of a scratch buffer a large value grew, so that an
// idle connection does not keep it.
func (c *conn) trimScratch() {
	if cap(c.scratch) > 64<<10 {
		c.scratch = nil
	}
}

// str views an argument as a string without copying. The store copies
// keys and values it keeps, so the view never outlives the command.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// clientMeta is what CLIENT LIST shows of a connection that its own
// goroutine changes. It is replaced whole, never modified, so that other
// connections can read it without a lock.
type clientMeta struct {
	name, libName, libVer string
	proto                 int
}

func (c *conn) setMeta(f func(*clientMeta)) {
	m := *c.meta.Load()
	f(&m)
	c.meta.Store(&m)
}

// noteCmd makes name the connection's last command, for CLIENT LIST. A
// connection that runs one command over and over (a pipeline of GETs)
// stores it once: the load is a plain read, the store a fence.
func (c *conn) noteCmd(name *string) {
	if p := &c.lastCmd; p.Load() != name {
		p.Store(name)
	}
}

// info is the connection's line in CLIENT LIST and CLIENT INFO, with
// Redis's fields in Redis's order. A memcached connection has a line too,
// marked proto=memcache at its end: resp=0 (it speaks no RESP), user= none
// (memcached has no authentication) and cmd= its memcached command.
func (c *conn) info(now time.Time) string {
	m := c.meta.Load()
	flags, cmd, user, resp, proto := "N", "NULL", "default", m.proto, ""
	if c.monitoring.Load() {
		flags = "O"
	}
	if p := c.lastCmd.Load(); p != nil {
		cmd = *p
	}
	if _, ok := c.proto.(*mcConn); ok {
		user, resp, proto = "", 0, " proto=memcache"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=-1 name=%s age=%d flags=%s db=0 cmd=%s user=%s resp=%d lib-name=%s lib-ver=%s%s",
		c.id, c.peerID(), c.sockName(), m.name, int(now.Sub(c.created).Seconds()), flags, cmd, user, resp, m.libName, m.libVer, proto)
}

// peerID is the client's address as Redis names it: ip:port, or for a
// Unix socket the socket's path and :0.
func (c *conn) peerID() string {
	if c.laddr != nil && c.laddr.Network() == "unix" {
		return c.laddr.String() + ":0"
	}
	return c.raddr.String()
}

// sockName is the address the client connected to, as Redis names it.
func (c *conn) sockName() string {
	if c.laddr != nil && c.laddr.Network() == "unix" {
		return c.laddr.String() + ":0"
	}
	return c.laddr.String()
}
