//go:build linux

package server

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a connection with raw system calls, waiting for
// readiness through the connection's own poller (syscall.RawConn), as the
// net package does, but without announcing each call to the Go scheduler:
// the socket is non-blocking, so a call never blocks, and the announcement
// (entersyscall, which also wakes the runtime's monitor thread when it
// sleeps) costs about as much CPU as a short command. On a server that is
// mostly one read and one write per request, that is a large share of the
// CPU per request.
type rawIO struct {
	rc syscall.RawConn

	p   []byte
	n   int
	err error

	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

// newRawIO returns raw I/O for nc, or nil if nc has no file descriptor.
func newRawIO(nc net.Conn) *rawIO {
	rc := rawConn(nc)
	if rc == nil {
		return nil
	}
	r := &rawIO{rc: rc}
	// Method values made once: a closure made per call would escape to
	// the heap on every read.
	r.readFn = r.doRead
	r.writeFn = r.doWrite
	return r
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	return r.n, r.err
}

func (r *rawIO) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.p))), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(n)
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until readable
		default:
			r.err = e
			return true
		}
	}
}

func (r *rawIO) Write(p []byte) (int, error) {
	r.p, r.n, r.err = p, 0, nil
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.rc.Write(r.writeFn); err != nil {
		return r.n, err
	}
	return r.n, r.err
}

func (r *rawIO) doWrite(fd uintptr) bool {
	for r.n < len(r.p) {
		rest := r.p[r.n:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(rest))), uintptr(len(rest)))
		switch e {
		case 0:
			r.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until writable
		default:
			r.err = e
			return true
		}
	}
	return true
}
