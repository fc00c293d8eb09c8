package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sessiond/sessiond/internal/testkit"
)

// occupy listens on a free loopback TCP port until the test ends and
// returns it; with next, the port after it is free too.
func occupy(t *testing.T, next bool) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if next {
			n, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
			if err != nil {
				l.Close()
				continue
			}
			n.Close()
		}
		t.Cleanup(func() { l.Close() })
		return port
	}
	t.Fatal("no free port with a free one after it")
	return 0
}

// A listener that cannot be opened stops the start with one line that
// names it, its flag and its address, and why.
func TestListenerInUse(t *testing.T) {
	sock := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "live.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return path
	}
	for _, tt := range []struct {
		name string
		// args returns the flags, one listener of which is in use, and
		// the line sessiond must print.
		args func(t *testing.T) ([]string, string)
	}{
		{"RESP TCP", func(t *testing.T) ([]string, string) {
			a := fmt.Sprintf("127.0.0.1:%d", occupy(t, false))
			return []string{"--addr", a}, "the RESP listener (--addr " + a + "): address already in use"
		}},
		{"RESP Unix socket", func(t *testing.T) ([]string, string) {
			p := sock(t)
			return []string{"--addr", "127.0.0.1:0", "--unix", p}, "the RESP Unix socket (--unix " + p + "): another server is listening on it"
		}},
		{"memcached TCP", func(t *testing.T) ([]string, string) {
			a := fmt.Sprintf("127.0.0.1:%d", occupy(t, false))
			return []string{"--addr", "127.0.0.1:0", "--memcache-addr", a}, "the memcached listener (--memcache-addr " + a + "): address already in use"
		}},
		{"memcached Unix socket", func(t *testing.T) ([]string, string) {
			p := sock(t)
			return []string{"--addr", "127.0.0.1:0", "--memcache-unix", p}, "the memcached Unix socket (--memcache-unix " + p + "): another server is listening on it"
		}},
		{"HTTP", func(t *testing.T) ([]string, string) {
			a := fmt.Sprintf("127.0.0.1:%d", occupy(t, false))
			return []string{"--addr", "127.0.0.1:0", "--http-addr", a}, "the HTTP listener (--http-addr " + a + "): address already in use"
		}},
		{"cluster gossip", func(t *testing.T) ([]string, string) {
			// The gossip port in use, the data port (the next) free.
			a := fmt.Sprintf("127.0.0.1:%d", occupy(t, true))
			return []string{"--addr", "127.0.0.1:0", "--node-name", "n1", "--cluster-addr", a}, "the cluster gossip listener (--cluster-addr " + a + "): address already in use"
		}},
		{"cluster data", func(t *testing.T) ([]string, string) {
			data := occupy(t, false)
			a := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
			d := fmt.Sprintf("127.0.0.1:%d", data)
			return []string{"--addr", "127.0.0.1:0", "--node-name", "n1", "--cluster-addr", a, "--cluster-data-addr", d},
				"the cluster data listener (--cluster-data-addr " + d + "): address already in use"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args, line := tt.args(t)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"--log-level", "error"}, args...), noEnv, &stdout, &stderr)
			if want := "sessiond: " + line + "\n"; code != exitFailed || stderr.String() != want {
				t.Errorf("run(%q) = %d, stderr %q; want %d, %q", args, code, &stderr, exitFailed, want)
			}
		})
	}
}
