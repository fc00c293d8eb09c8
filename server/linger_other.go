//go:build !unix

package server

import "net"

// unreadInput cannot peek at a socket here, so it says yes: a stopped
// connection always lingers.
func unreadInput(nc net.Conn) bool { return true }
