package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event loops serve RESP connections the way Redis does: a loop waits
// on an epoll set for every connection it serves, and for each one with
// input reads once, runs the commands read and writes their replies. A
// request over TCP so costs one read and one write; a goroutine per connection
// costs one more read (the one that finds the socket empty before the
// goroutine parks) and a goroutine wake-up per connection
// (docs/BENCHMARKS.md).
//
// A loop is a goroutine. It does not block a thread in epoll_wait: with
// nothing ready, it parks in Go's own poller, in which the loop's epoll
// descriptor is registered (it becomes readable when a connection has an
// event), so an idle loop costs a parked goroutine, and a loop woken for
// one connection costs what that connection's own goroutine would. The
// connections are in the set edge-triggered, so a connection with input
// left after its read gets no new event for it: the loop keeps such
// connections in a list of its own (again) and reads them in its next round
// without waiting. Input may be left when a read fills its buffer, when the
// event said the peer hung up (EPOLLRDHUP: the end is still to be read) or
// sent urgent data (EPOLLPRI: a TCP read stops at the urgent mark), and
// after any read of a Unix socket, which also stops after a message that
// passes descriptors. Otherwise a read that does not fill its buffer
// empties the socket, and the next input comes with an event: one read and
// one write per request, as Redis.
//
// A loop never waits for one client. A connection leaves its loop for a
// goroutine of its own, for good, when it sends a command that may wait or
// answer at length (offLoop, or many arguments), when the socket does not
// take all its replies, and when the server shuts down: the goroutine then
// does what it does for a connection served that way from the start.

// loopMaxArgs is the most arguments of a command run on a loop: DEL or
// MSET of more keys can take long.
const loopMaxArgs = 64

// errWouldBlock is a loop connection's read when the one read of the
// readiness event is done: the batch is over.
var errWouldBlock = errors.New("would block")

// eventLoops are the server's loops (Config.EventLoops).
type eventLoops struct {
	loops []*loop
	next  atomic.Uint32
	// attached and left count the connections that joined a loop and
	// that left one for a goroutine.
	attached, left atomic.Int64
}

// loop is one thread's epoll set and the connections in it.
type loop struct {
	s     *Server
	ls    *eventLoops
	ep    int             // the epoll set
	epf   *os.File        // ep, in Go's poller
	eprc  syscall.RawConn // epf's, to wait on
	wake  [2]int          // a pipe: a byte written wakes the loop
	spare int             // an open /dev/null, closed to make room for leave's descriptor at the process's limit
	conns map[int]*respConn
	again []*respConn // connections that may have input left, to read next round
	spent []*respConn // the list again was last round, reused
	dirty []*respConn // connections whose replies wait for the round's one Commit
	base  time.Time   // the loop's clock, monotonic: times below are ns since it
	swept int64       // the last idle sweep

	mu    sync.Mutex
	added []*respConn // accepted, to join the loop
	stop  bool        // Shutdown: every connection leaves, and the loop ends
	done  chan struct{}
}

// startLoops starts n loops, or returns nil if the system will not make
// them (the server then serves every connection with a goroutine).
func startLoops(s *Server, n int) *eventLoops {
	ls := &eventLoops{}
	for range n {
		l, err := newLoop(s, ls)
		if err != nil {
			s.log.Warn("event loop not started; serving connections with goroutines", "err", err)
			ls.stop()
			return nil
		}
		ls.loops = append(ls.loops, l)
		go l.run()
	}
	return ls
}

func newLoop(s *Server, ls *eventLoops) (*loop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &loop{s: s, ls: ls, ep: ep, conns: map[int]*respConn{}, base: time.Now(), spare: -1, done: make(chan struct{})}
	if err := syscall.Pipe2(l.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(ep)
		return nil, err
	}
	l.spare, _ = openSpare()
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, l.wake[0], &syscall.EpollEvent{Events: syscall.EPOLLIN | epollET, Fd: int32(l.wake[0])}); err != nil {
		l.closeFDs()
		return nil, err
	}
	// A non-blocking descriptor joins Go's poller as an os.File; one it
	// will not take would make the loop block a thread, so it is refused.
	if err := syscall.SetNonblock(ep, true); err != nil {
		l.closeFDs()
		return nil, err
	}
	l.epf = os.NewFile(uintptr(ep), "epoll")
	rc, err := l.epf.SyscallConn()
	if err == nil {
		err = l.epf.SetReadDeadline(time.Time{}) // fails unless in the poller
	}
	if err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("epoll descriptor not pollable: %w", err)
	}
	l.eprc = rc
	return l, nil
}

// epollET is EPOLLET as the uint32 of an event's mask.
const epollET = 1 << 31

func (l *loop) closeFDs() {
	if l.epf != nil {
		l.epf.Close()
	} else {
		syscall.Close(l.ep)
	}
	syscall.Close(l.wake[0])
	syscall.Close(l.wake[1])
	if l.spare >= 0 {
		syscall.Close(l.spare)
	}
}

// openSpare opens the descriptor a loop keeps in reserve.
func openSpare() (int, error) {
	return syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
}

// now is the loop's monotonic clock.
func (l *loop) now() int64 { return int64(time.Since(l.base)) }

// attach hands c to a loop and reports whether one took it; if not, the
// caller serves c with a goroutine.
func (ls *eventLoops) attach(c *respConn) bool {
	l := ls.loops[int(ls.next.Add(1))%len(ls.loops)]
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop {
		return false
	}
	fd, err := takeFD(c.nc)
	if err != nil {
		l.s.log.Debug("connection not taken by an event loop", "id", c.id, "err", err)
		return false
	}
	c.lc = &loopConn{l: l, fd: fd, raddr: c.raddr, laddr: c.laddr, active: l.now(), unix: c.laddr != nil && c.laddr.Network() == "unix"}
	c.nc, c.in, c.out = c.lc, c.lc, c.lc
	l.added = append(l.added, c)
	l.poke()
	ls.attached.Add(1)
	return true
}

// stop makes every connection leave its loop and waits for the loops to
// end. Connections accepted after it are served by goroutines.
func (ls *eventLoops) stop() {
	if ls == nil {
		return
	}
	for _, l := range ls.loops {
		l.mu.Lock()
		if !l.stop {
			// Once: the loop closes its pipe when it ends, and a later
			// write could reach whatever file took the descriptor.
			l.stop = true
			l.poke()
		}
		l.mu.Unlock()
	}
	for _, l := range ls.loops {
		<-l.done
	}
}

// poke wakes the loop.
func (l *loop) poke() { syscall.Write(l.wake[1], []byte{0}) }

// takeFD returns a descriptor of nc's socket of the caller's own, which the
// Go poller does not watch, and closes nc.
func takeFD(nc net.Conn) (int, error) {
	rc := rawConn(nc)
	if rc == nil {
		return -1, errors.New("no descriptor")
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		fd = int(r)
		if e != 0 {
			derr = e
		}
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	nc.Close() // the socket stays open through fd, still non-blocking
	return fd, nil
}

func (l *loop) run() {
	defer close(l.done)
	defer l.closeFDs()
	events := make([]syscall.EpollEvent, 128)
	for {
		if l.s.cfg.Timeout > 0 {
			l.epf.SetReadDeadline(time.Now().Add(l.sweepEvery()))
		}
		stop := false
		// One RawConn.Read for as long as events come: it clears the
		// poller's report of readiness when it starts, not between
		// waits, so a report that comes while events are served is kept.
		err := l.eprc.Read(func(fd uintptr) bool {
			for {
				n := epollPoll(fd, events)
				if n == 0 && len(l.again) == 0 {
					return false // wait in Go's poller
				}
				if l.serve(events[:n]) {
					stop = true
					return true
				}
				l.readAgain()
				l.flushDirty()
				l.sweep()
				if n < len(events) && len(l.again) == 0 {
					// The set was emptied, and no input is
					// left: whatever comes next makes the
					// descriptor readable again.
					return false
				}
			}
		})
		if stop {
			return
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// The loop cannot wait: it hands its connections to
			// goroutines and ends.
			l.s.log.Error("event loop cannot wait; serving its connections with goroutines", "err", err)
			l.mu.Lock()
			l.stop = true
			l.mu.Unlock()
			l.woken()
			return
		}
		l.sweep()
	}
}

// epollPoll returns the events ready in the set fd, without waiting and
// outside the Go scheduler's view, as the loop's reads and writes are.
func epollPoll(fd uintptr, events []syscall.EpollEvent) int {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		switch e {
		case 0:
			return int(r)
		case syscall.EINTR:
			continue
		}
		return 0
	}
}

// deferFlush keeps c's replies for the end of the loop's round when the
// store defers its log writes (commitReplies): the round then writes the
// log once for every connection it served, as Redis's loop writes its AOF
// buffer once, instead of once per connection. It reports whether it did.
func (lc *loopConn) deferFlush(c *conn) bool {
	if !c.s.commitReplies || c.quit {
		return false
	}
	if !lc.dirty {
		lc.dirty = true
		lc.l.dirty = append(lc.l.dirty, c.proto.(*respConn))
	}
	return true
}

// flushDirty commits the changes of the round's connections in one write
// of the log, then sends each its replies.
func (l *loop) flushDirty() {
	if len(l.dirty) == 0 {
		return
	}
	// A failure here fails again in each connection's own Commit, which
	// closes it, as from a goroutine.
	committed := l.s.st.Commit() == nil
	list := l.dirty
	for i, c := range list {
		list[i] = nil
		lc := c.lc
		if lc == nil || l.conns[lc.fd] != c { // gone from the loop since
			continue
		}
		lc.dirty = false
		if committed {
			c.uncommitted = false // its changes came before the round's Commit
		}
		c.w.Flush()
		switch {
		case lc.pending != nil:
			l.leave(c, nil, nil)
		case c.w.Err() != nil:
			l.drop(c)
		default:
			// As beforeRead does: an idle connection keeps small buffers.
			c.rd.Shrink()
			c.w.Shrink()
		}
	}
	l.dirty = list[:0]
}

// readAgain serves the connections whose last read may have left input,
// as if each had an event.
func (l *loop) readAgain() {
	list := l.again
	l.again, l.spent = l.spent[:0], list
	for i, c := range list {
		list[i] = nil
		if c.lc != nil && l.conns[c.lc.fd] == c { // not gone since
			c.lc.queued = false
			l.ready(c, 0)
		}
	}
}

// serve serves the events, and reports whether Shutdown asked the loop to
// end (after every connection left it).
func (l *loop) serve(events []syscall.EpollEvent) bool {
	for _, ev := range events {
		fd := int(ev.Fd)
		if fd == l.wake[0] {
			if l.woken() {
				return true
			}
			continue
		}
		if c := l.conns[fd]; c != nil {
			l.ready(c, ev.Events)
		}
	}
	return false
}

// woken takes the connections accepted for the loop, and reports whether
// Shutdown asked it to end, after every connection left it.
func (l *loop) woken() bool {
	var buf [64]byte
	for {
		if n, _ := syscall.Read(l.wake[0], buf[:]); n < len(buf) {
			break
		}
	}
	l.mu.Lock()
	added, stop := l.added, l.stop
	l.added = nil
	l.mu.Unlock()
	for _, c := range added {
		fd := c.lc.fd
		if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLPRI | epollET, Fd: int32(fd)}); err != nil {
			l.s.log.Debug("connection not added to an event loop", "id", c.id, "err", err)
			c.close()
			l.s.connDone(c.conn)
			continue
		}
		l.conns[fd] = c
	}
	if !stop {
		return false
	}
	for _, c := range l.conns {
		l.leave(c, nil, nil)
	}
	return true
}

// ready serves c's input: its one read, the commands it completes, and
// their replies. events is the event's mask, 0 when the loop reads c again
// (readAgain).
func (l *loop) ready(c *respConn, events uint32) {
	lc := c.lc
	lc.read = false
	if events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		lc.hup = true // for good: read on to the end
	}
	if events&syscall.EPOLLPRI != 0 {
		lc.urgent = true // until a read finds the socket empty
	}
	defer func() {
		if lc.more && !lc.queued && c.lc == lc && l.conns[lc.fd] == c {
			lc.queued = true
			l.again = append(l.again, c)
		}
	}()
	if l.s.cfg.Timeout > 0 {
		lc.active = l.now()
	}
	for !c.quit {
		args, err := c.rd.ReadCommand()
		if err == errWouldBlock {
			break
		}
		if err != nil {
			c.readFailed(err)
			if lc.pending != nil {
				// The replies the socket did not take, and the error,
				// go out before the close, as from a goroutine.
				c.quit = true
				l.leave(c, nil, nil)
				return
			}
			l.drop(c)
			return
		}
		cmd := c.s.lookup(args[0])
		if (cmd != nil && (cmd.flags&offLoop != 0 || (cmd.flags&write != 0 && c.s.cfg.WritesWait))) || len(args) > loopMaxArgs {
			l.leave(c, cmd, args)
			return
		}
		c.dispatchCmd(cmd, args)
		if c.w.Err() != nil {
			l.drop(c)
			return
		}
		if lc.pending != nil {
			l.leave(c, nil, nil)
			return
		}
	}
	if c.quit {
		c.w.Flush()
	}
	switch {
	case lc.pending != nil:
		l.leave(c, nil, nil)
	case c.quit || c.w.Err() != nil:
		l.drop(c)
	}
}

// drop closes c. The socket leaves the epoll set first: a closed
// descriptor leaves it only once no other holds the socket (a child
// process between fork and exec, say).
func (l *loop) drop(c *respConn) {
	if c.lc.dirty && c.w.Err() == nil {
		// Replies kept for the round's end (deferFlush) go out before
		// the close: a client that sent its last command with its FIN
		// still gets the reply.
		c.w.Flush()
		if c.lc.pending != nil {
			c.quit = true // the goroutine writes the rest, then closes
			l.leave(c, nil, nil)
			return
		}
	}
	delete(l.conns, c.lc.fd)
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, c.lc.fd, nil)
	c.close()
	l.s.connDone(c.conn)
}

// leave hands c to a goroutine of its own, which first writes the replies
// the socket did not take, then runs cmd (args), if any, and goes on
// serving c. args alias the reader's buffer, which nothing reads before.
func (l *loop) leave(c *respConn, cmd *command, args [][]byte) {
	lc := c.lc
	delete(l.conns, lc.fd)
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, lc.fd, nil)
	f := os.NewFile(uintptr(lc.fd), "")
	// net.FileConn needs a descriptor of its own: at the process's limit,
	// the spare makes room for it, and takes the one freed after.
	if l.spare >= 0 {
		syscall.Close(l.spare)
	}
	nc, err := net.FileConn(f)
	f.Close()
	l.spare, _ = openSpare()
	if err != nil {
		l.s.log.Warn("closing a connection that could not leave its event loop", "id", c.id, "err", err)
		l.s.connDone(c.conn)
		return
	}
	c.lc = nil
	c.setIO(nc)
	l.ls.left.Add(1)
	pending := lc.pending
	go func() {
		defer l.s.connDone(c.conn)
		defer c.close()
		// The deadline the loop never set, before any write.
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		c.deadlineSet = c.s.coarseNow()
		if len(pending) > 0 {
			_, err := c.out.Write(pending)
			pending = nil // not kept for the connection's life
			if err != nil {
				c.s.log.Debug("connection write failed", "id", c.id, "err", err)
				return
			}
		}
		if args != nil {
			c.dispatchCmd(cmd, args)
			if c.w.Err() != nil {
				return
			}
		}
		c.run()
	}()
}

// sweepEvery is how often a loop closes the connections idle past the
// server's timeout: every second, or twice per timeout if shorter.
func (l *loop) sweepEvery() time.Duration {
	return max(min(time.Second, l.s.cfg.Timeout/2), 10*time.Millisecond)
}

func (l *loop) sweep() {
	timeout := int64(l.s.cfg.Timeout)
	if timeout <= 0 {
		return
	}
	now := l.now()
	if now-l.swept < int64(l.sweepEvery()) {
		return
	}
	l.swept = now
	for _, c := range l.conns {
		if now-c.lc.active > timeout {
			l.s.log.Debug("closing idle connection", "id", c.id, "timeout", l.s.cfg.Timeout)
			l.drop(c)
		}
	}
}

// loopConn is a connection's socket while a loop serves it: the net.Conn
// the connection's code reads and writes. Reads and writes never wait.
type loopConn struct {
	l            *loop
	dirty        bool // in the loop's dirty list
	fd           int
	raddr, laddr net.Addr
	read         bool   // this round's one read is done
	more         bool   // the read may have left input: read again next round
	queued       bool   // in the loop's again list
	hup          bool   // an event said the client hung up: read on to the end
	urgent       bool   // an event said urgent data came: read on until empty
	unix         bool   // a Unix socket: a short read may leave input
	pending      []byte // replies the socket did not take
	active       int64  // the loop's time of the last input, with an idle timeout
}

// Read reads once per round of the loop; after that, and when the socket is
// empty, it returns errWouldBlock. It notes whether the read may have left
// input (more), for the loop to read again next round.
func (lc *loopConn) Read(p []byte) (int, error) {
	if lc.read || len(p) == 0 {
		return 0, errWouldBlock
	}
	lc.read = true
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(lc.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			if n == 0 {
				lc.more = false
				return 0, io.EOF
			}
			lc.more = int(n) == len(p) || lc.hup || lc.urgent || lc.unix
			return int(n), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			lc.more, lc.urgent = false, false
			return 0, errWouldBlock
		default:
			lc.more = false
			return 0, e
		}
	}
}

// Write writes p, or keeps what the socket does not take, and everything
// after it, in pending: the loop then hands the connection to a goroutine,
// which writes it.
func (lc *loopConn) Write(p []byte) (int, error) {
	if len(lc.pending) > 0 {
		lc.pending = append(lc.pending, p...)
		return len(p), nil
	}
	for done := 0; done < len(p); {
		rest := p[done:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(lc.fd), uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch e {
		case 0:
			done += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			lc.pending = append([]byte(nil), rest...)
			return len(p), nil
		default:
			return done, e
		}
	}
	return len(p), nil
}

// Close closes the socket, which also takes it out of the epoll set.
func (lc *loopConn) Close() error { return syscall.Close(lc.fd) }

// LocalAddr returns the connection's local address.
func (lc *loopConn) LocalAddr() net.Addr { return lc.laddr }

// RemoteAddr returns the client's address.
func (lc *loopConn) RemoteAddr() net.Addr { return lc.raddr }

// SetDeadline does nothing: the loop never waits on one connection, and
// closes idle ones itself.
func (lc *loopConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing, as SetDeadline.
func (lc *loopConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing, as SetDeadline.
func (lc *loopConn) SetWriteDeadline(time.Time) error { return nil }
