//go:build !linux

package eventloop

import "net"

// Group is a set of loops; there are none on this system.
type Group struct{}

// Start returns ErrUnsupported: loops need Linux's epoll.
func Start(Config) (*Group, error) { return nil, ErrUnsupported }

// Attach returns false: there are no loops.
func (*Group) Attach(net.Conn, func(*Socket) Conn) bool { return false }

// Stop does nothing.
func (*Group) Stop() {}

// Counts returns zeros.
func (*Group) Counts() (attached, left int64) { return 0, 0 }

// Socket is a connection's socket while a loop serves it; never made on
// this system.
type Socket struct{ net.Conn }

// Blocked returns false.
func (*Socket) Blocked() bool { return false }

// Defer returns false: replies go out at once.
func (*Socket) Defer() bool { return false }

// Kill does nothing: no Socket is made here.
func (*Socket) Kill() {}
