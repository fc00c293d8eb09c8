package eventloop

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

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
// when a read of a Unix socket stops after a message that passes
// descriptors (recvmsg says so: Socket.readOnce). Otherwise a read that does
// not fill its buffer empties the socket, and the next input comes with an
// event: one read and one write per request, as Redis, over TCP and Unix
// sockets alike.
//
// A loop never waits for one client. A connection leaves its loop for a
// goroutine of its own, for good, when its Serve says so, when the socket
// does not take all its replies, and when the group stops.

// Group is a set of loops.
type Group struct {
	cfg   Config
	log   *slog.Logger
	loops []*loop
	next  atomic.Uint32
	// attached and left count the connections that joined a loop and
	// that left one for a goroutine.
	attached, left atomic.Int64
}

// loop is one goroutine's epoll set and the connections in it.
type loop struct {
	g     *Group
	ep    int             // the epoll set
	epf   *os.File        // ep, in Go's poller
	eprc  syscall.RawConn // epf's, to wait on
	wake  [2]int          // a pipe: a byte written wakes the loop
	spare int             // an open /dev/null, closed to make room for leave's descriptor at the process's limit
	conns map[int]*Socket
	again []*Socket // sockets that may have input left, to read next round
	spent []*Socket // the list again was last round, reused
	dirty []*Socket // sockets whose replies wait for the round's one Commit
	base  time.Time // the loop's clock, monotonic: times below are ns since it
	swept int64     // the last idle sweep

	mu    sync.Mutex
	added []*Socket // attached, to join the loop
	kills []*Socket // killed (Socket.Kill), to be dropped
	stop  bool      // Stop: every connection leaves, and the loop ends
	done  chan struct{}
}

// Start starts cfg.Loops loops, or returns an error if the system will
// not make them (the caller then serves every connection with a
// goroutine).
func Start(cfg Config) (*Group, error) {
	if cfg.Loops < 1 {
		return nil, fmt.Errorf("eventloop: %d loops: want at least 1", cfg.Loops)
	}
	g := &Group{cfg: cfg, log: cfg.Logger}
	if g.log == nil {
		g.log = slog.Default()
	}
	for range cfg.Loops {
		l, err := newLoop(g)
		if err != nil {
			g.Stop()
			return nil, err
		}
		g.loops = append(g.loops, l)
		go l.run()
	}
	return g, nil
}

func newLoop(g *Group) (*loop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &loop{g: g, ep: ep, conns: map[int]*Socket{}, base: time.Now(), spare: -1, done: make(chan struct{})}
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
		return nil, fmt.Errorf("eventloop: epoll descriptor not pollable: %w", err)
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

// Attach hands nc to a loop and reports whether one took it; if not, nc
// is untouched and the caller serves it with a goroutine. If a loop takes
// it, nc is closed (the loop holds the socket through a descriptor of its
// own), and join is called with the Socket that stands for it, before the
// loop serves it, to return the connection to serve.
func (g *Group) Attach(nc net.Conn, join func(*Socket) Conn) bool {
	l := g.loops[int(g.next.Add(1))%len(g.loops)]
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attach(nc, join)
}

// attach is Attach to l, with l.mu held.
func (l *loop) attach(nc net.Conn, join func(*Socket) Conn) bool {
	if l.stop {
		return false
	}
	fd, err := takeFD(nc)
	if err != nil {
		l.g.log.Debug("connection not taken by an event loop", "client", nc.RemoteAddr().String(), "err", err)
		return false
	}
	raddr, laddr := nc.RemoteAddr(), nc.LocalAddr()
	nc.Close() // the socket stays open through fd, still non-blocking
	s := &Socket{l: l, fd: fd, raddr: raddr, laddr: laddr, active: l.now(), unix: laddr != nil && laddr.Network() == "unix"}
	s.c = join(s)
	l.added = append(l.added, s)
	l.poke()
	l.g.attached.Add(1)
	return true
}

// Counts returns how many connections joined a loop, and how many of them
// left one for a goroutine.
func (g *Group) Counts() (attached, left int64) { return g.attached.Load(), g.left.Load() }

// Stop makes every connection leave its loop (Conn.Resume) and waits for
// the loops to end. Attach refuses connections after it.
func (g *Group) Stop() {
	if g == nil {
		return
	}
	for _, l := range g.loops {
		l.mu.Lock()
		if !l.stop {
			// Once: the loop closes its pipe when it ends, and a later
			// write could reach whatever file took the descriptor.
			l.stop = true
			l.poke()
		}
		l.mu.Unlock()
	}
	for _, l := range g.loops {
		<-l.done
	}
}

// poke wakes the loop.
func (l *loop) poke() { syscall.Write(l.wake[1], []byte{0}) }

// takeFD returns a descriptor of nc's socket of the caller's own, which the
// Go poller does not watch.
func takeFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
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
	return fd, nil
}

func (l *loop) run() {
	defer close(l.done)
	defer l.closeFDs()
	events := make([]syscall.EpollEvent, 128)
	for {
		if l.g.cfg.IdleTimeout > 0 {
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
			l.g.log.Error("event loop cannot wait; serving its connections with goroutines", "err", err)
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

// flushDirty commits the changes of the round's connections in one
// Config.Commit, then has each send its replies.
func (l *loop) flushDirty() {
	if len(l.dirty) == 0 {
		return
	}
	// A failure here fails again in each connection's own commit, which
	// closes it, as from a goroutine.
	committed := l.g.cfg.Commit == nil || l.g.cfg.Commit() == nil
	list := l.dirty
	for i, s := range list {
		list[i] = nil
		if !l.holds(s) { // gone from the loop since
			continue
		}
		s.dirty = false
		l.next(s, s.c.Flush(committed))
	}
	l.dirty = list[:0]
}

// holds reports whether s is still in the loop.
func (l *loop) holds(s *Socket) bool { return s.fd >= 0 && l.conns[s.fd] == s }

// next does what a Conn said to do with its socket s.
func (l *loop) next(s *Socket, n Next) {
	switch {
	case n == Drop:
		l.drop(s)
	case n == Leave || s.pending != nil:
		l.leave(s)
	}
}

// readAgain serves the connections whose last read may have left input,
// as if each had an event.
func (l *loop) readAgain() {
	list := l.again
	l.again, l.spent = l.spent[:0], list
	for i, s := range list {
		list[i] = nil
		if l.holds(s) { // not gone since
			s.queued = false
			l.ready(s, 0)
		}
	}
}

// serve serves the events, and reports whether Stop asked the loop to end
// (after every connection left it).
func (l *loop) serve(events []syscall.EpollEvent) bool {
	for _, ev := range events {
		fd := int(ev.Fd)
		if fd == l.wake[0] {
			if l.woken() {
				return true
			}
			continue
		}
		if s := l.conns[fd]; s != nil {
			l.ready(s, ev.Events)
		}
	}
	return false
}

// woken takes the connections attached to the loop, and reports whether
// Stop asked it to end, after every connection left it.
func (l *loop) woken() bool {
	var buf [64]byte
	for {
		if n, _ := syscall.Read(l.wake[0], buf[:]); n < len(buf) {
			break
		}
	}
	l.mu.Lock()
	added, kills, stop := l.added, l.kills, l.stop
	l.added, l.kills = nil, nil
	l.mu.Unlock()
	for _, s := range added {
		if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, s.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLPRI | epollET, Fd: int32(s.fd)}); err != nil {
			l.g.log.Debug("connection not added to an event loop", "client", s.raddr.String(), "err", err)
			s.c.Close()
			continue
		}
		l.conns[s.fd] = s
	}
	for _, s := range kills {
		if l.holds(s) { // not gone since
			l.drop(s)
		}
	}
	if !stop {
		return false
	}
	for _, s := range l.conns {
		l.leave(s)
	}
	return true
}

// ready serves s's input: its one read, the commands it completes, and
// their replies. events is the event's mask, 0 when the loop reads s again
// (readAgain).
func (l *loop) ready(s *Socket, events uint32) {
	s.read = false
	if events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		s.hup = true // for good: read on to the end
	}
	if events&syscall.EPOLLPRI != 0 {
		s.urgent = true // until a read finds the socket empty
	}
	if l.g.cfg.IdleTimeout > 0 {
		s.active = l.now()
	}
	l.next(s, s.c.Serve())
	if s.more && !s.queued && l.holds(s) {
		s.queued = true
		l.again = append(l.again, s)
	}
}

// drop closes s's connection. The socket leaves the epoll set first: a
// closed descriptor leaves it only once no other holds the socket (a child
// process between fork and exec, say).
func (l *loop) drop(s *Socket) {
	l.remove(s)
	s.c.Close()
}

// remove takes s out of the loop.
func (l *loop) remove(s *Socket) {
	delete(l.conns, s.fd)
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, s.fd, nil)
}

// leave hands s's connection to a goroutine of its own (Conn.Resume).
func (l *loop) leave(s *Socket) {
	l.remove(s)
	f := os.NewFile(uintptr(s.fd), "")
	// net.FileConn needs a descriptor of its own: at the process's limit,
	// the spare makes room for it, and takes the one freed after.
	if l.spare >= 0 {
		syscall.Close(l.spare)
	}
	nc, err := net.FileConn(f)
	f.Close()
	s.fd = -1 // closed: the Socket no longer reads, writes or closes it
	l.spare, _ = openSpare()
	if err != nil {
		l.g.log.Warn("closing a connection that could not leave its event loop", "client", s.raddr.String(), "err", err)
		s.c.Close()
		return
	}
	l.g.left.Add(1)
	pending := s.pending
	s.pending = nil
	s.c.Resume(nc, pending)
}

// sweepEvery is how often a loop closes the connections idle past the
// timeout: every second, or twice per timeout if shorter.
func (l *loop) sweepEvery() time.Duration {
	return max(min(time.Second, l.g.cfg.IdleTimeout/2), 10*time.Millisecond)
}

func (l *loop) sweep() {
	timeout := int64(l.g.cfg.IdleTimeout)
	if timeout <= 0 {
		return
	}
	now := l.now()
	if now-l.swept < int64(l.sweepEvery()) {
		return
	}
	l.swept = now
	for _, s := range l.conns {
		if now-s.active > timeout {
			l.g.log.Debug("closing idle connection", "client", s.raddr.String(), "timeout", l.g.cfg.IdleTimeout)
			l.drop(s)
		}
	}
}
