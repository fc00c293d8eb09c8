package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The memcached text protocol, served on the same store as RESP: a session
// written by one protocol is read by the other, with the same bytes and the
// same expiry (memcached's flags are stored with the record; a key written
// over RESP has flags 0).

// memcachedVersion is the memcached version whose protocol sessiond follows.
// Clients parse it: the node memcached client reads three numbers.
const memcachedVersion = "1.6.18"

var memcacheProtocol = &protocol{
	name:    "memcache",
	tooMany: "ERROR Too many open connections\r\n",
	denied:  deniedMemcache,
	open: func(s *Server, nc net.Conn) *conn {
		s.mc.total.Add(1)
		return newMCConn(s, nc).conn
	},
}

// mcState is the server's memcached protocol state.
type mcState struct {
	closed mcCounters // the counts of connections that have closed, under Server.mu
	total  atomic.Int64

	flushMu sync.Mutex
	flush   *time.Timer // a flush_all with a delay, pending
}

// ErrMemcacheNoAuth is returned by Listen for a memcached protocol
// listener on a network address while RequirePass is set, unless
// MemcacheInsecure says to accept that.
var ErrMemcacheNoAuth = errors.New("the memcached text protocol has no authentication, so anyone who can reach the port would bypass requirepass; " +
	"listen on a loopback address (127.0.0.1, ::1, localhost) or a Unix socket, or set MemcacheInsecure to accept that")

// checkMemcacheAddr refuses a memcache TCP listener that others can reach
// while a password protects the Redis protocol, unless MemcacheInsecure says
// to serve it anyway (then it warns).
func (s *Server) checkMemcacheAddr() error {
	addr := s.cfg.MemcacheAddr
	if addr == "" || s.cfg.RequirePass == "" || isLoopback(addr) {
		return nil
	}
	if !s.cfg.MemcacheInsecure {
		return fmt.Errorf("server: memcache address %s is not a loopback address and a password is set: %w", addr, ErrMemcacheNoAuth)
	}
	s.log.Warn("serving the memcached protocol without authentication on a non-loopback address: anyone who can reach it bypasses requirepass",
		"addr", addr)
	return nil
}

// isLoopback reports whether the host of addr (host:port) is a loopback
// address or localhost. An empty host is every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// flushAfter clears the store after d, replacing any flush pending; d <= 0
// clears it now, and returns the store's error if it could not (a delayed
// flush that fails is logged). As in memcached, everything stored until
// then is gone then.
func (s *Server) flushAfter(d time.Duration) error {
	s.mc.flushMu.Lock()
	defer s.mc.flushMu.Unlock()
	if s.mc.flush != nil {
		s.mc.flush.Stop()
		s.mc.flush = nil
	}
	if d <= 0 {
		return s.st.Clear()
	}
	s.mc.flush = time.AfterFunc(d, func() {
		if err := s.st.Clear(); err != nil {
			s.log.Error("a delayed flush_all failed", "err", err)
		}
	})
	return nil
}

// stopFlush cancels a pending flush, at shutdown.
func (s *Server) stopFlush() {
	s.mc.flushMu.Lock()
	defer s.mc.flushMu.Unlock()
	if s.mc.flush != nil {
		s.mc.flush.Stop()
	}
}
