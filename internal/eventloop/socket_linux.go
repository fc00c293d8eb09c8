package eventloop

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// Socket is a connection's socket while a loop serves it: the net.Conn its
// Conn reads and writes. Reads and writes never wait. Its methods are for
// the loop's goroutine, from the Conn's methods.
type Socket struct {
	l            *loop
	c            Conn
	fd           int // -1 once closed or handed on
	raddr, laddr net.Addr
	dirty        bool   // in the loop's dirty list
	read         bool   // this round's one read is done
	more         bool   // the read may have left input: read again next round
	queued       bool   // in the loop's again list
	hup          bool   // an event said the client hung up: read on to the end
	urgent       bool   // an event said urgent data came: read on until empty
	unix         bool   // a Unix socket: read with recvmsg, to see a read cut short by passed descriptors
	pending      []byte // replies the socket did not take
	active       int64  // the loop's time of the last input, with an idle timeout
}

// Blocked reports whether the socket did not take all that was written: the
// rest waits, and the connection leaves the loop after its Serve or Flush,
// for a goroutine that writes it.
func (s *Socket) Blocked() bool { return s.pending != nil }

// Defer keeps the connection's replies for the end of the loop's round:
// the loop calls Config.Commit once for every connection that deferred,
// then Conn.Flush on each. It reports whether it did (true: loops run
// here).
func (s *Socket) Defer() bool {
	if !s.dirty {
		s.dirty = true
		s.l.dirty = append(s.l.dirty, s)
	}
	return true
}

// Read reads once per round of the loop; after that, and when the socket is
// empty, it returns ErrWouldBlock. It notes whether the read may have left
// input (more), for the loop to read again next round.
func (s *Socket) Read(p []byte) (int, error) {
	if s.read || len(p) == 0 || s.fd < 0 {
		return 0, ErrWouldBlock
	}
	s.read = true
	for {
		n, cut, e := s.readOnce(p)
		switch e {
		case 0:
			if n == 0 {
				s.more = false
				return 0, io.EOF
			}
			s.more = n == len(p) || s.hup || s.urgent || cut
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			s.more, s.urgent = false, false
			return 0, ErrWouldBlock
		default:
			s.more = false
			return 0, e
		}
	}
}

// readOnce reads once into p. A Unix socket is read with recvmsg, whose
// flags tell a read that stopped short at a message passing descriptors
// (which, with no room given for them, the kernel closes and reports as
// MSG_CTRUNC): then input may be left (cut). Otherwise a short read of
// either kind of socket emptied it.
func (s *Socket) readOnce(p []byte) (n int, cut bool, e syscall.Errno) {
	if !s.unix {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(s.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		return int(r), false, e
	}
	iov := syscall.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	msg := syscall.Msghdr{Iov: &iov, Iovlen: 1}
	r, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&msg)), 0)
	return int(r), msg.Flags&syscall.MSG_CTRUNC != 0, e
}

// Write writes p, or keeps what the socket does not take, and everything
// after it, in pending: the loop then hands the connection to a goroutine,
// which writes it (Conn.Resume).
func (s *Socket) Write(p []byte) (int, error) {
	if len(s.pending) > 0 {
		s.pending = append(s.pending, p...)
		return len(p), nil
	}
	if s.fd < 0 {
		return 0, net.ErrClosed
	}
	for done := 0; done < len(p); {
		rest := p[done:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(s.fd), uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch e {
		case 0:
			done += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			s.pending = append([]byte(nil), rest...)
			return len(p), nil
		default:
			return done, e
		}
	}
	return len(p), nil
}

// Kill closes the connection from any goroutine: its loop drops it
// (Conn.Close) as soon as it wakes, which Kill makes it do. A socket that
// has left its loop, or is leaving it, is not closed: whoever serves the
// connection then must close it.
func (s *Socket) Kill() {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop {
		// Every connection leaves the loop, and the loop's pipe may be
		// closed: a poke could reach another file.
		return
	}
	l.kills = append(l.kills, s)
	l.poke()
}

// Close closes the socket, which also takes it out of the epoll set.
func (s *Socket) Close() error {
	if s.fd < 0 {
		return nil
	}
	fd := s.fd
	s.fd = -1
	return syscall.Close(fd)
}

// LocalAddr returns the connection's local address.
func (s *Socket) LocalAddr() net.Addr { return s.laddr }

// RemoteAddr returns the client's address.
func (s *Socket) RemoteAddr() net.Addr { return s.raddr }

// SetDeadline does nothing: the loop never waits on one connection, and
// closes idle ones itself.
func (s *Socket) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing, as SetDeadline.
func (s *Socket) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing, as SetDeadline.
func (s *Socket) SetWriteDeadline(time.Time) error { return nil }
