package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sessiond/sessiond/internal/prefetch"
	"github.com/sessiond/sessiond/internal/resp"
)

// conn is one client connection and its protocol state.
type conn struct {
	s   *Server
	nc  net.Conn
	in  io.Reader // nc, or raw I/O on it
	out io.Writer // likewise
	rd  *resp.Reader
	w   *resp.Writer

	raddr, laddr net.Addr  // nc's, kept for CLIENT LIST: nc changes when a connection leaves an event loop
	lc           *loopConn // the connection's state in an event loop; nil when a goroutine serves it

	id      int64
	created time.Time
	meta    atomic.Pointer[clientMeta]
	authed  bool
	quit    bool // close after the replies are flushed
	// uncommitted is set by a command that changes data, when the store
	// defers its log writes to the server (commitReplies): the next
	// reply bytes wait for the store's Commit, so that nothing is
	// acknowledged before it is in the log (and, under appendfsync
	// always, on the disk).
	uncommitted bool
	lastCmd     string

	multi     bool       // inside MULTI
	multiErr  bool       // a command failed to queue: EXEC aborts
	queue     [][][]byte // commands queued by MULTI, copied
	queueSize int        // bytes in queue, bounded by MaxCommand

	scratch []byte // reused buffer for values on their way out

	deadlineSet time.Time // when the write deadline was last moved

	stats connStats

	stopOnce sync.Once
	stopped  chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:       s,
		nc:      nc,
		id:      s.nextID.Add(1),
		created: time.Now(),
		authed:  s.cfg.RequirePass == "",
		stopped: make(chan struct{}),
	}
	c.raddr, c.laddr = nc.RemoteAddr(), nc.LocalAddr()
	c.setIO(nc)
	c.rd = resp.NewReader(countingReader{connIn{c}, &c.stats.netIn}, resp.Limits{
		MaxArgs:    s.cfg.MaxArgs,
		MaxBulk:    s.cfg.MaxBulk,
		MaxCommand: s.cfg.MaxCommand,
	})
	c.meta.Store(&clientMeta{proto: 2})
	c.rd.Unauthenticated = !c.authed
	c.rd.BeforeRead = c.beforeRead
	c.rd.AfterRead = c.prefetch
	c.w = resp.NewWriter(deadlineWriter{c})
	return c
}

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
	n, err := c.out.Write(p)
	c.stats.netOut.Add(int64(n))
	return n, err
}

// beforeRead runs when the connection would wait for input: the batch of
// commands it sent is done, so its replies go out now.
func (c *conn) beforeRead() error {
	if c.lc != nil && c.lc.deferFlush(c) {
		return nil // the loop sends the replies at the end of its round
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	c.rd.Shrink()
	c.w.Shrink()
	// The deadline first, then the check: stop sets a deadline of now
	// after closing stopped, so whichever runs second, a stopping
	// connection does not wait out the idle timeout.
	if c.s.cfg.Timeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.Timeout))
	}
	select {
	case <-c.stopped:
		return errStopped
	default:
	}
	return nil
}

var errStopped = errors.New("server shutting down")

// prefetch asks the store for the memory the commands just read will touch,
// when they are more than one with a key and the store is large enough for
// it to help (internal/prefetch): their cache misses then
// overlap instead of coming one after another. It halves the time of the
// lookups of a batch of GETs (BenchmarkGetBatch) and took a third off the
// server's CPU per GET at pipeline 16 (docs/BENCHMARKS.md).
func (c *conn) prefetch() {
	if !c.authed || !prefetch.Helps(c.s.st) {
		return
	}
	var names, args [prefetch.MaxKeys][]byte
	n := 0
	c.rd.Ahead(len(names), func(name, arg []byte) {
		names[n], args[n] = name, arg
		n++
	})
	if n < 2 {
		return
	}
	var b prefetch.Batch
	for i := range n {
		cmd := c.s.lookup(names[i])
		if cmd == nil || cmd.first != 1 {
			continue
		}
		b.Add(str(args[i]))
		b.Values = b.Values || cmd.flags&readsValue != 0
	}
	if b.N >= 2 {
		prefetch.Keys(c.s.st, b)
	}
}

// prefetchGroup is how many keys of one command (MGET, a memcached get of
// many keys) are prefetched at a time, ahead of their lookups.
const prefetchGroup = 16

// prefetchGroupAt prefetches keys[i:i+prefetchGroup] if i starts such a
// group in a command of more than one key (internal/prefetch): call it
// before looking up keys[i].
func (s *Server) prefetchGroupAt(keys [][]byte, i int, values bool) {
	if len(keys) < 2 || i%prefetchGroup != 0 || !prefetch.Helps(s.st) {
		return
	}
	b := prefetch.Batch{Values: values}
	for _, k := range keys[i:min(i+prefetchGroup, len(keys))] {
		b.Add(str(k))
	}
	prefetch.Keys(s.st, b)
}

// stop asks the connection to close once it has answered the commands it
// has read. A connection blocked reading is woken at once.
func (c *conn) stop() {
	c.stopOnce.Do(func() {
		close(c.stopped)
		c.nc.SetReadDeadline(time.Now())
	})
}

// serve reads and runs the connection's commands until it closes.
func (c *conn) serve() {
	defer c.close()
	c.run()
}

// run reads and runs commands, flushing each batch's replies when it would
// wait for more, until the client goes, a reply cannot be written or QUIT.
func (c *conn) run() {
	for !c.quit {
		args, err := c.rd.ReadCommand()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.dispatch(args)
		if c.w.Err() != nil {
			return
		}
	}
	c.w.Flush()
}

// readFailed answers a protocol error before closing, as Redis does, and
// logs what is unusual.
func (c *conn) readFailed(err error) {
	var pe *resp.ProtocolError
	switch {
	case errors.As(err, &pe):
		c.w.Error("ERR " + pe.Error())
		c.w.Flush()
		c.s.log.Debug("closing connection after a protocol error", "client", c.nc.RemoteAddr().String(), "id", c.id, "err", err)
	case errors.Is(err, errStopped), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		select {
		case <-c.stopped:
			// Shutdown woke the read; nothing was half-read.
			c.w.Flush()
		default:
			c.s.log.Debug("closing idle connection", "id", c.id, "timeout", c.s.cfg.Timeout)
		}
	default:
		c.s.log.Debug("connection read failed", "id", c.id, "err", err)
	}
}

// str views an argument as a string without copying. The store copies
// keys and values it keeps, so the view never outlives the command.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// dispatch runs one command: it looks the command up, checks arity and
// authentication, queues it inside MULTI, and calls it.
func (c *conn) dispatch(args [][]byte) { c.dispatchCmd(c.s.lookup(args[0]), args) }

// dispatchCmd is dispatch with the command looked up: cmd, nil if args[0]
// names none.
func (c *conn) dispatchCmd(cmd *command, args [][]byte) {
	c.stats.commands.Add(1)
	// Redis checks that the command exists and has its arguments before
	// it checks authentication; so does this.
	if cmd == nil {
		if c.multi {
			c.multiErr = true
		}
		c.w.Error(unknownCommand(args))
		return
	}
	c.lastCmd = cmd.name
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		if c.multi {
			c.multiErr = true
		}
		c.w.Error("ERR wrong number of arguments for '" + cmd.name + "' command")
		return
	}
	if !c.authed && cmd.flags&noAuth == 0 {
		if c.multi {
			c.multiErr = true
		}
		c.w.Error(errNoAuth)
		return
	}
	if cmd.flags&(write|readonly) != 0 && !c.s.ready.Load() {
		if c.multi {
			c.multiErr = true
		}
		c.w.Error(errLoading)
		return
	}
	if c.s.commitReplies && cmd.flags&write != 0 && !c.multi {
		c.uncommitted = true
	}
	if c.multi && cmd.flags&noQueue == 0 {
		q := make([][]byte, len(args))
		// What the copy really takes: the bytes, a slice header per
		// argument and the queue's slot.
		c.queueSize += 24 + 24*len(args)
		for i, a := range args {
			q[i] = append([]byte(nil), a...)
			c.queueSize += len(a)
		}
		if c.queueSize > c.s.cfg.MaxCommand {
			// Drop the queue now: a transaction cannot hold more
			// memory than one command may.
			c.queue, c.multiErr = nil, true
			c.w.Error(fmt.Sprintf("ERR transaction too large: more than %d bytes queued", c.s.cfg.MaxCommand))
			return
		}
		c.queue = append(c.queue, q)
		c.w.Simple("QUEUED")
		return
	}
	cmd.fn(c, args)
}

// unknownCommand is Redis's reply to a command it does not have, built as
// Redis builds it: the name cut at 128 bytes, and the arguments quoted
// while they take fewer than 128 bytes, each cut to what is left.
func unknownCommand(args [][]byte) string {
	var list []byte
	for _, a := range args[1:] {
		if len(list) >= 128 {
			break
		}
		n := 128 - len(list)
		list = append(list, '\'')
		list = append(list, trunc(a, n)...)
		list = append(list, "' "...)
	}
	return "ERR unknown command '" + string(trunc(args[0], 128)) + "', with args beginning with: " + string(list)
}

func trunc(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
