package server_test

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/server"
)

// A raw memcached text protocol client for the tests: it sends any bytes
// and reads replies as exact bytes, so that a test pins what memcached
// sends. Every read and write has a deadline.

type mcClient struct {
	*client // its RESP methods are not for memcache; write, expectClosed are
}

// mcServer is a testServer that also serves the memcached protocol, on an
// ephemeral port and a Unix socket.
type mcServer struct {
	*testServer
	mcTCP, mcUnix string
}

// startMC serves a store opened with opts over RESP and memcache.
func startMC(t testing.TB, cfg server.Config, opts *sessiond.Options) *mcServer {
	t.Helper()
	if cfg.MemcacheAddr == "" {
		cfg.MemcacheAddr = "127.0.0.1:0"
	}
	if cfg.MemcacheUnix == "" {
		cfg.MemcacheUnix = filepath.Join(shortTempDir(t), "m.sock")
	}
	ts := &mcServer{testServer: startServer(t, cfg, opts)}
	addrs := ts.srv.MemcacheAddrs()
	ts.mcTCP, ts.mcUnix = addrOf(addrs, "tcp"), addrOf(addrs, "unix")
	if ts.mcTCP == "" || ts.mcUnix == "" {
		t.Fatalf("MemcacheAddrs() = %v: want a tcp and a unix address", addrs)
	}
	return ts
}

// addrOf returns the last of addrs on network, or "".
func addrOf(addrs []net.Addr, network string) string {
	a := ""
	for _, x := range addrs {
		if x.Network() == network {
			a = x.String()
		}
	}
	return a
}

// mc opens a memcache connection over TCP.
func (ts *mcServer) mc(t testing.TB) *mcClient {
	t.Helper()
	return dialMC(t, "tcp", ts.mcTCP)
}

func dialMC(t testing.TB, network, addr string) *mcClient {
	t.Helper()
	return &mcClient{dialNet(t, network, addr)}
}

// readN reads n bytes of reply.
func (c *mcClient) readN(n int) (string, error) {
	c.nc.SetReadDeadline(c.deadline())
	b := make([]byte, n)
	m, err := io.ReadFull(c.br, b)
	return string(b[:m]), err
}

// expectBytes reads a reply of want's length and checks that it is want.
func (c *mcClient) expectBytes(want, what string) {
	c.t.Helper()
	got, err := c.readN(len(want))
	if got != want {
		c.t.Fatalf("%s: got %q (%v), want %q", what, got, err, want)
	}
}

// do sends cmd and checks that the reply is want.
func (c *mcClient) do(cmd, want string) {
	c.t.Helper()
	c.writeString(cmd)
	c.expectBytes(want, fmt.Sprintf("%q", clip([]byte(cmd))))
}

// line sends cmd and returns the first line of the reply, without CRLF.
func (c *mcClient) line(cmd string) string {
	c.t.Helper()
	c.writeString(cmd)
	c.nc.SetReadDeadline(c.deadline())
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("%q: read: %v", clip([]byte(cmd)), err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// stats returns the lines of "stats [sub]" as name to value.
func (c *mcClient) stats(sub string) map[string]string {
	c.t.Helper()
	cmd := "stats"
	if sub != "" {
		cmd += " " + sub
	}
	c.writeString(cmd + "\r\n")
	m := map[string]string{}
	for {
		c.nc.SetReadDeadline(c.deadline())
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("%s: %v", cmd, err)
		}
		l = strings.TrimSuffix(l, "\r\n")
		if l == "END" {
			return m
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 || f[0] != "STAT" {
			c.t.Fatalf("%s: line %q", cmd, l)
		}
		m[f[1]] = f[2]
	}
}

// checkServesMC proves that an open memcache connection is still served
// correctly: a write and a read of a fresh key.
func checkServesMC(t testing.TB, c *mcClient) {
	t.Helper()
	k := fmt.Sprintf("mcother:%d", uniq.Add(1))
	c.do("set "+k+" 7 0 3\r\nabc\r\n", "STORED\r\n")
	c.do("get "+k+"\r\n", "VALUE "+k+" 7 3\r\nabc\r\nEND\r\n")
}
