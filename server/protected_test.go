package server_test

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// secondAddress returns an address of this host that is not a loopback
// one, which a connection to it also comes from: a client on another
// address than 127.0.0.1, without leaving the host.
func secondAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().IsGlobalUnicast() {
			return ip.Unmap().String()
		}
	}
	t.Skip("this host has no address but loopback ones: protected mode is tested through its address check only (TestFromLocal)")
	return ""
}

// denied dials addr and returns the one line the server sends before it
// closes the connection, failing if it serves the connection instead.
func denied(t *testing.T, network, addr, probe string) string {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, probe)
	r := bufio.NewReader(nc)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the refusal on %s: %v", addr, err)
	}
	// Closed with the client's command unread: a reset, or an end.
	if rest, err := r.ReadString('\n'); err != io.EOF && !isReset(err) {
		t.Fatalf("after %q the server sent %q (%v); want the connection closed", line, rest, err)
	}
	return line
}

// TestProtectedMode: with no password, a client from another address than
// loopback gets the protocol's error saying why and is disconnected, over
// RESP and memcached, while the Unix socket and loopback are served; with
// protected mode off, or a password, it is served.
func TestProtectedMode(t *testing.T) {
	host := secondAddress(t)
	remote := func(cfg server.Config) *testServer {
		cfg.Addr = net.JoinHostPort(host, "0")
		cfg.MemcacheAddr = net.JoinHostPort(host, "0")
		return startServer(t, cfg, nil)
	}
	mcAddr := func(ts *testServer) string {
		for _, a := range ts.srv.MemcacheAddrs() {
			if a.Network() == "tcp" {
				return a.String()
			}
		}
		t.Fatal("no memcached TCP listener")
		return ""
	}

	t.Run("on", func(t *testing.T) {
		ts := remote(server.Config{})
		line := denied(t, "tcp", ts.tcp, "PING\r\n")
		if !strings.HasPrefix(line, "-DENIED ") || !strings.Contains(line, "protected mode") || !strings.Contains(line, "requirepass") {
			t.Fatalf("RESP from %s: %q, want -DENIED naming protected mode and requirepass", host, line)
		}
		line = denied(t, "tcp", mcAddr(ts), "version\r\n")
		if !strings.HasPrefix(line, "SERVER_ERROR ") || !strings.Contains(line, "protected mode") {
			t.Fatalf("memcached from %s: %q, want SERVER_ERROR naming protected mode", host, line)
		}
		c := ts.dialUnix(t) // the socket is local
		checkServes(t, c)
		c.expect("*2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n", "CONFIG", "GET", "protected-mode")
		// As Redis counts them: received, not rejected (maxclients).
		if got := infoField(t, c, "rejected_connections"); got != "0" {
			t.Fatalf("rejected_connections = %s, want 0", got)
		}
		if got := infoField(t, c, "total_connections_received"); got != "3" {
			t.Fatalf("total_connections_received = %s, want 3 (two refused, this one)", got)
		}
	})
	t.Run("loopback served", func(t *testing.T) {
		ts := startServer(t, server.Config{Addr: "127.0.0.1:0"}, nil)
		checkServes(t, ts.dial(t))
	})
	t.Run("off", func(t *testing.T) {
		ts := remote(server.Config{ProtectedModeOff: true})
		c := ts.dial(t)
		checkServes(t, c)
		c.expect("*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n", "CONFIG", "GET", "protected-mode")
	})
	t.Run("password set", func(t *testing.T) {
		ts := remote(server.Config{RequirePass: "s3cret", MemcacheInsecure: true})
		c := ts.dial(t)
		c.expect(noAuth, "PING")
		c.expect("+OK\r\n", "AUTH", "s3cret")
		checkServes(t, c)
	})
}
