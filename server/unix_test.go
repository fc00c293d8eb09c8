//go:build unix

package server_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/server"
)

func socketMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("%s is not a socket: %v", path, fi.Mode())
	}
	return fi.Mode().Perm()
}

func TestUnixSocket(t *testing.T) {
	t.Parallel()
	ts := start(t)
	if got := socketMode(t, ts.unix); got != 0o600 {
		t.Errorf("default socket permissions %#o, want 0600", got)
	}
	c := ts.dialUnix(t)
	runSteps(t, c, []step{
		s("+PONG\r\n", "PING"),
		s(ok, "SET", "u", "v"),
		s(bulk("v"), "GET", "u"),
	})
	ts.dial(t).expect(bulk("v"), "GET", "u") // one store behind both
	c.writeString("GET u\r\n")
	c.expectRead(bulk("v"), "inline GET on the Unix socket")
}

func TestUnixSocketPermissions(t *testing.T) {
	t.Parallel()
	for _, perm := range []os.FileMode{0o600, 0o660, 0o666, 0o700} {
		ts := startServer(t, server.Config{UnixPerm: perm}, nil)
		if got := socketMode(t, ts.unix); got != perm {
			t.Errorf("UnixPerm %#o: socket has %#o", perm, got)
		}
		ts.dialUnix(t).expect("+PONG\r\n", "PING")
	}
}

func TestUnixSocketRemovedOnShutdown(t *testing.T) {
	t.Parallel()
	ts := start(t)
	if err := ts.shutdown(t, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := os.Lstat(ts.unix); !os.IsNotExist(err) {
		t.Errorf("socket file still there after Shutdown (stat: %v)", err)
	}
}

// A socket file left by a server that died is replaced.
func TestUnixStaleSocketReplaced(t *testing.T) {
	t.Parallel()
	path := filepath.Join(shortTempDir(t), "s.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket file should exist: %v", err)
	}
	ts := startServer(t, server.Config{Unix: path}, nil)
	ts.dialUnix(t).expect("+PONG\r\n", "PING")
	if got := socketMode(t, path); got != 0o600 {
		t.Errorf("replaced socket has permissions %#o, want 0600", got)
	}
}

// A socket another server answers on is not taken over.
func TestUnixLiveSocketRefused(t *testing.T) {
	t.Parallel()
	first := start(t)
	st, err := sessiond.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	second := server.New(st, server.Config{Unix: first.unix, Addr: "127.0.0.1:0", Logger: quietLog})
	err = second.Listen()
	if err == nil {
		second.Shutdown(t.Context())
		t.Fatalf("Listen on a live server's socket succeeded")
	}
	if !strings.Contains(err.Error(), "another server") {
		t.Errorf("Listen on a live socket: %q, want it to mention another server", err)
	}
	// The TCP listener opened before the failure is closed again.
	for _, a := range second.Addrs() {
		if c, err := net.DialTimeout(a.Network(), a.String(), time.Second); err == nil {
			c.Close()
			t.Errorf("after a failed Listen, %s %s still accepts connections", a.Network(), a)
		}
	}
	// The first server kept its socket and serves on.
	first.dialUnix(t).expect("+PONG\r\n", "PING")
	socketMode(t, first.unix)
}

// A path that is not a socket is never removed.
func TestUnixPathNotASocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(shortTempDir(t), "file")
	if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := sessiond.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = server.New(st, server.Config{Unix: path, Logger: quietLog}).Listen()
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v, want an error saying it is not a socket", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Errorf("the regular file was changed or removed")
	}
}
