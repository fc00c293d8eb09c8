package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// TLS: Config.TLSAddr serves the Redis protocol over TLS with
// Config.TLSConfig. A TLS connection is served as a TCP one is (protected
// mode, MaxClients, the password, the timeouts, CLIENT LIST and the
// counters), but always by a goroutine of its own: an event loop reads the
// socket's bytes itself, and these must go through crypto/tls.
//
// The handshake runs in the connection's goroutine, bounded by
// TLSHandshakeTimeout, before the connection is a client: one whose
// handshake fails is not counted in connected_clients nor in
// total_connections_received, and is not in CLIENT LIST. Handshakes under
// way count against MaxClients with the clients, so that a flood of
// connections that never finish theirs is bounded like any other.

// tlsState is what the server keeps for its TLS listener.
type tlsState struct {
	config *tls.Config // Config.TLSConfig, at TLS 1.2 or later; nil: no TLS

	// ctx ends at Shutdown, which interrupts the handshakes under way.
	ctx    context.Context
	cancel context.CancelFunc

	handshakes atomic.Int64 // under way
}

// minTLSVersion is the oldest TLS version served: 1.0 and 1.1 are
// deprecated (RFC 8996), and every Redis client speaks 1.2.
const minTLSVersion = tls.VersionTLS12

func (t *tlsState) init(c *tls.Config) {
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if c == nil {
		return
	}
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, minTLSVersion)
	if get := c.GetConfigForClient; get != nil {
		// What the hook returns is the whole configuration of the
		// handshake, its MinVersion included.
		c.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			cc, err := get(h)
			if cc != nil && cc.MinVersion < minTLSVersion {
				cc = cc.Clone()
				cc.MinVersion = minTLSVersion
			}
			return cc, err
		}
	}
	t.config = c
}

func (t *tlsState) stopHandshakes() { t.cancel() }

// listenTLS opens the TLS listener.
func (s *Server) listenTLS() error {
	nl, err := net.Listen("tcp", s.cfg.TLSAddr)
	if err != nil {
		return fmt.Errorf("server: the TLS listener cannot listen on %s: %w", s.cfg.TLSAddr, err)
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, listener{nl, respProtocol, s.tls.config})
	s.mu.Unlock()
	s.log.Info("listening", "proto", "resp-tls", "network", "tcp", "addr", nl.Addr().String(),
		"tls-auth-clients", tlsAuthClients(s.tls.config))
	return nil
}

// TLSAddrs returns the addresses the server serves the Redis protocol
// over TLS on.
func (s *Server) TLSAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a []net.Addr
	for _, l := range s.listeners {
		if l.tls != nil {
			a = append(a, l.Addr())
		}
	}
	return a
}

// handshake starts a goroutine that does the TLS handshake of nc, which l
// accepted, and serves the connection if it succeeds. It returns false if
// the server is shutting down.
func (s *Server) handshake(l listener, nc net.Conn) bool {
	if s.clients.Load()+s.tls.handshakes.Load() >= int64(s.cfg.MaxClients) {
		// As Redis does, closed with no reply: none can be read before
		// the handshake. Counted as a refusal past maxclients.
		s.stats.rejected.Add(1)
		nc.Close()
		return true
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.tls.handshakes.Add(1)
	go func() {
		defer s.wg.Done()
		tc, err := s.handshakeConn(l, nc)
		// The place is free before the client can tell the handshake
		// failed.
		s.tls.handshakes.Add(-1)
		if err != nil {
			nc.Close()
			return
		}
		if c, _ := s.admit(l, tc); c != nil {
			s.serveConn(c)
		}
	}()
	return true
}

// handshakeConn does the TLS handshake of nc within TLSHandshakeTimeout,
// or until Shutdown, and returns the TLS connection. A failure is logged.
func (s *Server) handshakeConn(l listener, nc net.Conn) (*tls.Conn, error) {
	tc := tls.Server(nc, l.tls)
	// A deadline, not a context's timeout, which would close nc itself:
	// the caller closes it, once the handshake's place is free.
	nc.SetDeadline(time.Now().Add(s.cfg.TLSHandshakeTimeout))
	err := tc.HandshakeContext(s.tls.ctx)
	switch {
	case err == nil:
		nc.SetDeadline(time.Time{})
	case s.tls.ctx.Err() != nil:
		// Shutdown.
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.log.Info("TLS handshake timed out", "client", nc.RemoteAddr().String(), "timeout", s.cfg.TLSHandshakeTimeout)
	case errors.Is(err, io.EOF):
		// Closed before a word: a port probe, or a client that
		// refused the server's certificate.
		s.log.Debug("a TLS client closed its connection during the handshake", "client", nc.RemoteAddr().String())
	default:
		s.log.Info("TLS handshake failed", "client", nc.RemoteAddr().String(), "err", err)
	}
	return tc, err
}

// tlsAuthClients is Redis's tls-auth-clients for c: whether clients must
// present a certificate.
func tlsAuthClients(c *tls.Config) string {
	switch {
	case c == nil || c.ClientAuth == tls.NoClientCert:
		return "no"
	case c.ClientAuth == tls.RequireAndVerifyClientCert || c.ClientAuth == tls.RequireAnyClientCert:
		return "yes"
	default:
		return "optional"
	}
}

// tlsSettings adds to CONFIG GET's settings those Redis names after its
// TLS listener that the server knows: tls-port and tls-auth-clients. (The
// files are the caller's, in Config.Settings.)
func (s *Server) tlsSettings(m map[string]string) {
	m["tls-port"] = "0"
	for _, a := range s.TLSAddrs() {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			m["tls-port"] = p
		}
	}
	m["tls-auth-clients"] = tlsAuthClients(s.tls.config)
}

// socket returns the connection under nc's TLS, if it has one: to close it
// at once, without a TLS goodbye that could wait on a client that does not
// read, or to peek at its unread input.
func socket(nc net.Conn) net.Conn {
	if tc, ok := nc.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return nc
}
