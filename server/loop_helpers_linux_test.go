//go:build linux

package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/eventloop"
)

// loopTestServer starts a server with cfg (Addr and Logger filled in) and
// waits until its loops, if any, run.
func loopTestServer(t *testing.T, cfg Config, opts *sessiond.Options) (*Server, string) {
	t.Helper()
	st, err := sessiond.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := New(st, cfg)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
		st.Close()
	})
	deadline := time.Now().Add(5 * time.Second)
	for cfg.EventLoops > 0 {
		s.mu.Lock()
		ls := s.loops
		s.mu.Unlock()
		if ls != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event loops")
		}
		time.Sleep(time.Millisecond)
	}
	return s, s.Addrs()[0].String()
}

// dialSmallRcvbuf dials addr with a tiny receive buffer, so that the
// server's writes stop being taken after a few KiB while the client does
// not read.
func dialSmallRcvbuf(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// attachedCount and leftCount are how many connections joined one of the
// loops g, and how many left one for a goroutine.
func attachedCount(g *eventloop.Group) int64 { a, _ := g.Counts(); return a }
func leftCount(g *eventloop.Group) int64     { _, l := g.Counts(); return l }
