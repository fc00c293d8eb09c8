package server_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// testServer is a Server running in the test process on an ephemeral TCP
// port and a Unix socket.
type testServer struct {
	srv   *server.Server
	st    *sessiond.Store
	tcp   string
	unix  string
	cfg   server.Config
	serve chan error
	down  atomic.Bool
}

// shortTempDir returns a directory with a short path: a Unix socket path
// must fit in 108 bytes, and t.TempDir's paths carry the test's name.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer opens a store with opts and serves it with cfg. Addr and
// Unix default to an ephemeral port and a fresh socket path. The server
// is shut down, and its Serve's result checked, when the test ends.
// eventLoops runs every test with RESP connections served by event loops
// (scripts/test.sh runs the tests both ways).
var eventLoops = flag.Int("loops", 0, "serve RESP connections from this many event loops (server.Config.EventLoops)")

func startServer(t testing.TB, cfg server.Config, opts *sessiond.Options) *testServer {
	t.Helper()
	st, err := sessiond.Open(opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return serveStore(t, st, cfg)
}

// serveStore is startServer on a store opened already, which
// the server closes when the test ends.
func serveStore(t testing.TB, st *sessiond.Store, cfg server.Config) *testServer {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Unix == "" {
		cfg.Unix = filepath.Join(shortTempDir(t), "s.sock")
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	if cfg.EventLoops == 0 {
		cfg.EventLoops = *eventLoops
	}
	ts := &testServer{st: st, cfg: cfg, serve: make(chan error, 1)}
	ts.srv = server.New(st, cfg)
	if err := ts.srv.Listen(); err != nil {
		st.Close()
		t.Fatalf("listen: %v", err)
	}
	for _, a := range ts.srv.Addrs() {
		switch a.Network() {
		case "tcp":
			ts.tcp = a.String()
		case "unix":
			ts.unix = a.String()
		}
	}
	if ts.tcp == "" || ts.unix == "" {
		t.Fatalf("Addrs() = %v: want a tcp and a unix address", ts.srv.Addrs())
	}
	go func() { ts.serve <- ts.srv.Serve() }()
	t.Cleanup(func() {
		defer st.Close()
		if ts.down.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.checkServeReturned(t)
	})
	return ts
}

// shutdown shuts the server down now and checks that Serve returned
// ErrServerClosed.
func (ts *testServer) shutdown(t testing.TB, timeout time.Duration) error {
	t.Helper()
	ts.down.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := ts.srv.Shutdown(ctx)
	ts.checkServeReturned(t)
	return err
}

func (ts *testServer) checkServeReturned(t testing.TB) {
	t.Helper()
	select {
	case err := <-ts.serve:
		if !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Serve did not return within 5s of Shutdown")
	}
}

// dial opens a TCP connection to the server.
func (ts *testServer) dial(t testing.TB) *client {
	t.Helper()
	return dialNet(t, "tcp", ts.tcp)
}

// dialUnix opens a connection on the Unix socket.
func (ts *testServer) dialUnix(t testing.TB) *client {
	t.Helper()
	return dialNet(t, "unix", ts.unix)
}

// start serves a default store with a default config.
func start(t testing.TB) *testServer {
	t.Helper()
	return startServer(t, server.Config{}, nil)
}

var uniq atomic.Int64

// checkServes proves that an already-open connection is still served
// correctly: a write and a read of a fresh key, and PING.
func checkServes(t testing.TB, c *client) {
	t.Helper()
	k := fmt.Sprintf("other:%d", uniq.Add(1))
	v := strings.Repeat("v", 20) + k
	c.expect("+OK\r\n", "SET", k, v)
	c.expect("$"+strconv.Itoa(len(v))+"\r\n"+v+"\r\n", "GET", k)
	c.expect("+PONG\r\n", "PING")
}

// heapInuse returns the test process's heap in use after a collection.
func heapInuse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// infoField returns a field of INFO's text, as a client reads it.
func infoField(t testing.TB, c *client, field string) string {
	t.Helper()
	r := c.do("INFO")
	text, ok := r.V.(string)
	if !ok {
		if v, ok2 := r.V.(Verbatim); ok2 {
			text = v.Text
		} else {
			t.Fatalf("INFO: got %q, want a bulk string", r.Raw)
		}
	}
	v, ok := testkit.InfoFields(text)[field]
	if !ok {
		t.Fatalf("INFO has no %s field:\n%s", field, text)
	}
	return v
}

// connectedClients returns INFO's connected_clients, read on c.
func connectedClients(t testing.TB, c *client) int {
	t.Helper()
	n, err := strconv.Atoi(infoField(t, c, "connected_clients"))
	if err != nil {
		t.Fatalf("connected_clients: %v", err)
	}
	return n
}
