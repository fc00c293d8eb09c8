//go:build unix

package server_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// logBuffer collects a server's text logs.
type logBuffer struct{ testkit.Buffer }

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func TestMemcacheListenLogs(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	ts := startMC(t, server.Config{Logger: logs.logger()}, nil)
	for _, want := range []string{
		"msg=listening proto=resp network=tcp addr=" + ts.tcp,
		"msg=listening proto=resp network=unix addr=" + ts.unix,
		"msg=listening proto=memcache network=tcp addr=" + ts.mcTCP,
		"msg=listening proto=memcache network=unix addr=" + ts.mcUnix,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %q:\n%s", want, logs.String())
		}
	}
	if got := ts.srv.Addrs(); len(got) != 2 {
		t.Errorf("Addrs() = %v: want the two RESP addresses only", got)
	}
}

// The memcache listener alone is enough.
func TestMemcacheOnly(t *testing.T) {
	t.Parallel()
	st, err := sessiond.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(st, server.Config{MemcacheAddr: "127.0.0.1:0", Logger: quietLog})
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	go srv.Serve()
	defer srv.Shutdown(t.Context())
	if len(srv.Addrs()) != 0 || len(srv.MemcacheAddrs()) != 1 {
		t.Fatalf("Addrs %v, MemcacheAddrs %v", srv.Addrs(), srv.MemcacheAddrs())
	}
	dialMC(t, "tcp", srv.MemcacheAddrs()[0].String()).do("version\r\n", "VERSION 1.6.18\r\n")
}

// memcached's text protocol has no authentication: with a password set, a
// memcache listener others can reach is refused unless asked for.
func TestMemcacheRequirePass(t *testing.T) {
	t.Parallel()
	listen := func(cfg server.Config) (*server.Server, error) {
		st, err := sessiond.Open(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if cfg.Logger == nil {
			cfg.Logger = quietLog
		}
		srv := server.New(st, cfg)
		err = srv.Listen()
		if err == nil {
			go srv.Serve()
			t.Cleanup(func() { srv.Shutdown(t.Context()) })
		}
		return srv, err
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "example.com:0"} {
		_, err := listen(server.Config{Addr: "127.0.0.1:0", RequirePass: "secret", MemcacheAddr: addr})
		if err == nil {
			t.Errorf("MemcacheAddr %s with RequirePass: Listen succeeded", addr)
			continue
		}
		if !errors.Is(err, server.ErrMemcacheNoAuth) {
			t.Errorf("MemcacheAddr %s: error %q is not ErrMemcacheNoAuth", addr, err)
		}
		for _, want := range []string{addr, "no authentication", "bypass", "MemcacheInsecure"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("MemcacheAddr %s: error %q does not say %q", addr, err, want)
			}
		}
	}
	// Loopback addresses, and a Unix socket, are fine.
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.2:0", "localhost:0", "[::1]:0"} {
		// (An error for want of IPv6 is not the refusal.)
		if _, err := listen(server.Config{RequirePass: "secret", MemcacheAddr: addr}); err != nil && strings.Contains(err.Error(), "no authentication") {
			t.Errorf("MemcacheAddr %s: %v", addr, err)
		}
	}
	if _, err := listen(server.Config{RequirePass: "secret", MemcacheUnix: filepath.Join(shortTempDir(t), "m.sock")}); err != nil {
		t.Errorf("MemcacheUnix with RequirePass: %v", err)
	}
	// Without a password, or with MemcacheInsecure, any address; the
	// latter warns.
	if _, err := listen(server.Config{MemcacheAddr: "0.0.0.0:0"}); err != nil {
		t.Errorf("MemcacheAddr 0.0.0.0 without a password: %v", err)
	}
	var logs logBuffer
	srv, err := listen(server.Config{RequirePass: "secret", MemcacheAddr: "0.0.0.0:0", MemcacheInsecure: true, Logger: logs.logger()})
	if err != nil {
		t.Fatalf("MemcacheInsecure: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "bypasses requirepass") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	_, port, _ := net.SplitHostPort(srv.MemcacheAddrs()[0].String())
	dialMC(t, "tcp", "127.0.0.1:"+port).do("set a 0 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n")
}

func TestMemcacheUnixSocket(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{UnixPerm: 0o660}, nil)
	if got := socketMode(t, ts.mcUnix); got != 0o660 {
		t.Errorf("memcache socket permissions %#o, want UnixPerm 0660", got)
	}
	dialMC(t, "unix", ts.mcUnix).do("set u 0 0 1\r\nv\r\n", "STORED\r\n")
	ts.mc(t).do("get u\r\n", "VALUE u 0 1\r\nv\r\nEND\r\n")

	// A live socket is an error; a stale one is replaced.
	st, _ := sessiond.Open(nil)
	defer st.Close()
	err := server.New(st, server.Config{MemcacheUnix: ts.mcUnix, Logger: quietLog}).Listen()
	if err == nil || !strings.Contains(err.Error(), "another server is listening") {
		t.Errorf("Listen on a live socket: %v", err)
	}
	path := filepath.Join(shortTempDir(t), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	stale := startMC(t, server.Config{MemcacheUnix: path}, nil)
	dialMC(t, "unix", stale.mcUnix).do("version\r\n", "VERSION 1.6.18\r\n")
	if err := stale.shutdown(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("memcache socket still there after Shutdown (%v)", err)
	}
}

// Shutdown answers what a memcache connection sent, then closes it, and
// cancels a pending flush_all.
func TestMemcacheShutdown(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	idle := ts.mc(t)
	idle.do("version\r\n", "VERSION 1.6.18\r\n")
	c := ts.mc(t)
	c.do("set k 0 0 1\r\nx\r\nflush_all 1\r\n", "STORED\r\nOK\r\n")
	if err := ts.shutdown(t, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := string(idle.expectClosed()); got != "" {
		t.Errorf("idle connection got %q before the close", got)
	}
	c.expectClosed()
	time.Sleep(1200 * time.Millisecond)
	if ok, err := ts.st.Exists("k"); !ok || err != nil {
		t.Errorf("the flush_all pending at shutdown ran: k exists %v, %v", ok, err)
	}
}

func TestMemcacheMaxClients(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{MaxClients: 2}, nil)
	a, b := ts.mc(t), ts.dial(t)
	a.do("version\r\n", "VERSION 1.6.18\r\n")
	b.expect("+PONG\r\n", "PING")
	extra := ts.mc(t)
	extra.expectBytes("ERROR Too many open connections\r\n", "connection 3")
	extra.expectClosed()
	checkServesMC(t, a)
}

func TestMemcacheIdleTimeout(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{Timeout: 200 * time.Millisecond}, nil)
	idle := ts.mc(t)
	idle.do("version\r\n", "VERSION 1.6.18\r\n")
	start := time.Now()
	if got := string(idle.expectClosed()); got != "" {
		t.Errorf("idle connection got %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v, want about 200ms", d)
	}
}

func TestMemcacheStats(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{Version: "9.9.9"}, &sessiond.Options{MaxMemory: 64 << 20, MaxValueSize: 2 << 20})
	c := ts.mc(t)
	if items := c.stats("items"); len(items) != 0 {
		t.Errorf("stats items of an empty store: %v, want nothing", items)
	}
	c.do("set a 0 0 1\r\nx\r\nset b 0 0 1\r\nx\r\nget a zz\r\ntouch a 1\r\ndelete b\r\n",
		"STORED\r\nSTORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nTOUCHED\r\nDELETED\r\n")
	st := c.stats("")
	for name, want := range map[string]string{
		"pid": strconv.Itoa(os.Getpid()), "version": "1.6.18", "sessiond_version": "9.9.9",
		"curr_connections": "1", "total_connections": "1",
		"cmd_get": "2", "cmd_set": "2", "cmd_touch": "1", "cmd_flush": "0",
		"get_hits": "1", "get_misses": "1", "delete_hits": "1", "touch_hits": "1",
		"curr_items": "1", "total_items": "2", "limit_maxbytes": strconv.Itoa(64 << 20),
	} {
		if st[name] != want {
			t.Errorf("stats %s = %q, want %q", name, st[name], want)
		}
	}
	for _, name := range []string{"uptime", "time", "bytes", "bytes_read", "bytes_written", "threads", "evictions", "rusage_user"} {
		if _, err := strconv.ParseFloat(st[name], 64); err != nil {
			t.Errorf("stats %s = %q, want a number", name, st[name])
		}
	}
	// stats items in the shape the node memcached client parses.
	if items := c.stats("items"); items["items:1:number"] != "1" {
		t.Errorf("stats items: %v", items)
	}
	if slabs := c.stats("slabs"); slabs["active_slabs"] != "1" || slabs["1:get_hits"] != "1" {
		t.Errorf("stats slabs: %v", slabs)
	}
	if set := c.stats("settings"); set["item_size_max"] != strconv.Itoa(2<<20) || set["tcpport"] == "0" || set["cas_enabled"] != "yes" {
		t.Errorf("stats settings: %v", set)
	}
	c.do("stats reset\r\n", "RESET\r\n")
	if st := c.stats(""); st["cmd_get"] != "0" || st["total_connections"] != "0" {
		t.Errorf("after stats reset: cmd_get %s, total_connections %s", st["cmd_get"], st["total_connections"])
	}
	c.do("stats nosuch\r\n", "ERROR\r\n")
	// Connections that closed still count.
	other := ts.mc(t)
	other.do("get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n")
	other.nc.Close()
	testkit.Eventually(t, 5*time.Second, "curr_connections drops back to 1", func() bool { return c.stats("")["curr_connections"] == "1" })
	if st := c.stats(""); st["cmd_get"] != "1" || st["get_hits"] != "1" {
		t.Errorf("after a connection closed: cmd_get %s, get_hits %s", st["cmd_get"], st["get_hits"])
	}
}
