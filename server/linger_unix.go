//go:build unix

package server

import (
	"net"
	"syscall"
)

// unreadInput reports whether the client sent bytes the server has not
// read, peeking at the socket without waiting. If it cannot tell, it says
// yes.
func unreadInput(nc net.Conn) bool {
	rc := rawConn(nc)
	if rc == nil {
		return true
	}
	unread := true
	var b [1]byte
	rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing waiting; n == 0: the client closed its side.
		unread = (err == nil && n > 0) || (err != nil && err != syscall.EAGAIN)
	})
	return unread
}

// rawConn returns nc's descriptor access, or nil if it has none.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
