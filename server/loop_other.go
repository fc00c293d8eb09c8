//go:build !linux

package server

import "net"

// Event loops are for Linux (epoll); elsewhere a goroutine serves every
// connection, whatever Config.EventLoops says.

type loopConn struct{ net.Conn }

func (*loopConn) deferFlush(*conn) bool { return false }

type eventLoops struct{}

func startLoops(*Server, int) *eventLoops { return nil }

func (*eventLoops) attach(*respConn) bool { return false }

func (*eventLoops) stop() {}
