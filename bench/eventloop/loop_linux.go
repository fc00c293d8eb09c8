package main

import (
	"bytes"
	"net"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/sessiond/sessiond"
)

// loop is one thread's epoll set and the connections in it.
type loop struct {
	ep        int
	st        *sessiond.Store
	listeners []net.Listener
	accepting map[int]bool // listening descriptors, true for TCP
	conns     map[int]*client
	scratch   []byte
	args      [][]byte
}

// client is one connection's buffers.
type client struct {
	fd      int
	in      []byte
	out     []byte
	waitOut bool // EPOLLOUT asked for: a reply did not fit the socket
}

func newLoop(st *sessiond.Store) (*loop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &loop{ep: ep, st: st, accepting: map[int]bool{}, conns: map[int]*client{}}, nil
}

func (l *loop) add(fd int) error {
	return syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
}

// run serves until the process exits. The loop first polls without
// blocking, outside the scheduler's view, as the server's own reads and
// writes do; only when nothing is ready does it block in a call the Go
// scheduler knows about.
func (l *loop) run() error {
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 256)
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_WAIT, uintptr(l.ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		n := int(r)
		if e != 0 {
			n = 0
		}
		if n == 0 {
			var err error
			n, err = syscall.EpollWait(l.ep, events, -1)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return err
			}
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if tcp, ok := l.accepting[fd]; ok {
				l.accept(fd, tcp)
				continue
			}
			c := l.conns[fd]
			switch {
			case c == nil:
			case ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0:
				l.readable(c)
			case ev.Events&syscall.EPOLLOUT != 0:
				l.flush(c)
			}
		}
	}
}

func (l *loop) accept(lfd int, tcp bool) {
	for {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN: all taken; anything else: try at the next event
		}
		if tcp {
			syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		}
		if err := l.add(fd); err != nil {
			syscall.Close(fd)
			continue
		}
		l.conns[fd] = &client{fd: fd, in: make([]byte, 0, 16<<10)}
	}
}

func (l *loop) close(c *client) {
	delete(l.conns, c.fd)
	syscall.Close(c.fd) // also leaves the epoll set
}

// readable reads once (the set is level-triggered: what is left is
// reported again), runs every complete command and writes the replies.
func (l *loop) readable(c *client) {
	if cap(c.in)-len(c.in) < 4<<10 {
		c.in = append(c.in[:len(c.in):len(c.in)], make([]byte, cap(c.in))...)[:len(c.in)]
	}
	free := c.in[len(c.in):cap(c.in)]
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(c.fd), uintptr(unsafe.Pointer(&free[0])), uintptr(len(free)))
	switch {
	case e == syscall.EAGAIN || e == syscall.EINTR:
		return
	case e != 0 || n == 0:
		l.close(c)
		return
	}
	c.in = c.in[:len(c.in)+int(n)]
	rest := c.in
	for len(rest) > 0 {
		args, next, ok := l.parse(rest)
		if !ok {
			break
		}
		l.exec(c, args)
		rest = next
	}
	c.in = c.in[:copy(c.in, rest)]
	l.flush(c)
}

func (l *loop) flush(c *client) {
	for len(c.out) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&c.out[0])), uintptr(len(c.out)))
		switch {
		case e == syscall.EAGAIN:
			if !c.waitOut {
				c.waitOut = true
				syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT, Fd: int32(c.fd)})
			}
			return
		case e == syscall.EINTR:
			continue
		case e != 0:
			l.close(c)
			return
		}
		c.out = c.out[n:]
	}
	c.out = c.out[:0]
	if c.waitOut {
		c.waitOut = false
		syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)})
	}
}

// parse reads one array of bulk strings from p, the only form the load
// generator sends; ok is false while the command is incomplete. A
// malformed command is not detected: this is an experiment.
func (l *loop) parse(p []byte) (args [][]byte, rest []byte, ok bool) {
	count, p, ok := header(p, '*')
	if !ok {
		return nil, nil, false
	}
	args = l.args[:0]
	for range count {
		var n int
		if n, p, ok = header(p, '$'); !ok || len(p) < n+2 {
			return nil, nil, false
		}
		args = append(args, p[:n])
		p = p[n+2:]
	}
	l.args = args
	return args, p, true
}

// header reads "<kind><number>\r\n".
func header(p []byte, kind byte) (int, []byte, bool) {
	end := bytes.IndexByte(p, '\n')
	if len(p) == 0 || p[0] != kind || end < 2 {
		return 0, nil, false
	}
	n, err := strconv.Atoi(string(p[1 : end-1]))
	return n, p[end+1:], err == nil
}

func (l *loop) exec(c *client, args [][]byte) {
	switch {
	case len(args) == 2 && bytes.EqualFold(args[0], []byte("get")):
		v, _, found, err := l.st.Lookup(l.scratch[:0], string(args[1]))
		l.scratch = v
		switch {
		case err != nil:
			c.out = append(c.out, "-ERR "+err.Error()+"\r\n"...)
		case !found:
			c.out = append(c.out, "$-1\r\n"...)
		default:
			c.out = append(c.out, '$')
			c.out = strconv.AppendInt(c.out, int64(len(v)), 10)
			c.out = append(c.out, "\r\n"...)
			c.out = append(c.out, v...)
			c.out = append(c.out, "\r\n"...)
		}
	case len(args) == 3 && bytes.EqualFold(args[0], []byte("set")):
		if _, err := l.st.Write(string(args[1]), args[2], sessiond.WriteOptions{}); err != nil {
			c.out = append(c.out, "-ERR "+err.Error()+"\r\n"...)
			return
		}
		c.out = append(c.out, "+OK\r\n"...)
	case len(args) == 1 && bytes.EqualFold(args[0], []byte("ping")):
		c.out = append(c.out, "+PONG\r\n"...)
	default:
		c.out = append(c.out, "-ERR the eventloop experiment serves GET, SET and PING only\r\n"...)
	}
}
