//go:build !linux

package server

import "net"

// rawIO is only for Linux; elsewhere connections use the net package.
type rawIO struct{ net.Conn }

func newRawIO(nc net.Conn) *rawIO { return nil }
