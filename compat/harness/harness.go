// Package harness starts real servers for the compatibility tests: the
// sessiond binary built from this repository, and redis-server or memcached
// from the system, each on ephemeral loopback ports or Unix sockets in the
// test's temporary directory, stopped when the test ends.
package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// Server is a running server process.
type Server struct {
	// Addr is the TCP address of the Redis protocol listener, if any.
	Addr string
	// Unix is the path of the Redis protocol Unix socket, if any.
	Unix string
	// MemcacheAddr is the TCP address of the memcached listener, if any.
	MemcacheAddr string
	// MemcacheUnix is the path of the memcached protocol Unix socket, if
	// any.
	MemcacheUnix string
	// TLSAddr is the TCP address of the Redis protocol over TLS, if any
	// (--tls-addr).
	TLSAddr string
	// Gossip and Data are a cluster node's gossip and data stream
	// addresses, if it is one (--cluster-addr).
	Gossip, Data string
	// HTTP is the address of the HTTP listener for operators, if any
	// (--http-addr).
	HTTP string
	// Cmd is the process.
	Cmd *exec.Cmd

	mu  sync.Mutex
	log strings.Builder
}

// Log returns what the server has written to stderr so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// RepoRoot returns the sessiond repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary builds cmd/sessiond once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sessiond-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "sessiond")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/sessiond")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sessiond: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

var listening = regexp.MustCompile(`msg=listening proto=([\w-]+) network=(\w+) addr=(\S+)`)

// Start runs sessiond with args and waits until it listens. Unless args
// name --addr, it listens on an ephemeral loopback port. The process is
// stopped (SIGTERM, then SIGKILL after 10s) when the test ends, and its log
// is printed if the test failed.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return StartWrapped(t, nil, args...)
}

// StartWrapped is Start with the binary run by a wrapper command, such as
// {"ip", "netns", "exec", "ns1"} to run it in a network namespace.
func StartWrapped(t testing.TB, wrapper []string, args ...string) *Server {
	t.Helper()
	return start(t, wrapper, nil, args)
}

// StartEnv is Start with env (KEY=value) added to the binary's
// environment, such as SESSIOND_REQUIREPASS=secret.
func StartEnv(t testing.TB, env []string, args ...string) *Server {
	t.Helper()
	return start(t, nil, env, args)
}

func start(t testing.TB, wrapper, env, args []string) *Server {
	t.Helper()
	bin := Binary(t)
	hasAddr := false
	for _, a := range args {
		if a == "--addr" || strings.HasPrefix(a, "--addr=") {
			hasAddr = true
		}
	}
	if !hasAddr {
		args = append([]string{"--addr", "127.0.0.1:0"}, args...)
	}
	args = append([]string{"--log-format", "text"}, args...)
	// COMPAT_SESSIOND_ARGS runs every sessiond with more flags, such as
	// "--event-loops 0" (scripts/test.sh runs the client suites so).
	args = append(strings.Fields(os.Getenv("COMPAT_SESSIOND_ARGS")), args...)
	cmd := exec.Command(bin, args...)
	if len(wrapper) > 0 {
		cmd = exec.Command(wrapper[0], append(append(wrapper[1:len(wrapper):len(wrapper)], bin), args...)...)
	}
	cmd.Env = append(cleanEnv(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Cmd: cmd}
	want := 0
	for _, a := range args {
		switch strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-") {
		case "addr", "unix", "memcache-addr", "memcache-unix", "http-addr", "tls-addr":
			want++
		case "cluster-addr":
			want += 2 // gossip and data
		}
	}
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		seen := 0
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			if m := listening.FindStringSubmatch(line); m != nil {
				switch {
				case m[1] == "resp" && m[2] == "tcp":
					s.Addr = m[3]
				case m[1] == "resp" && m[2] == "unix":
					s.Unix = m[3]
				case m[1] == "resp-tls":
					s.TLSAddr = m[3]
				case m[1] == "memcache" && m[2] == "tcp":
					s.MemcacheAddr = m[3]
				case m[1] == "memcache" && m[2] == "unix":
					s.MemcacheUnix = m[3]
				case m[1] == "gossip":
					s.Gossip = m[3]
				case m[1] == "data":
					s.Data = m[3]
				case m[1] == "http":
					s.HTTP = m[3]
				}
				seen++
				if seen == want {
					close(ready)
				}
			}
			s.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { cmd.Wait(); close(exited) }()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("sessiond %v exited before listening:\n%s", args, s.Log())
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sessiond %v did not listen within 15s:\n%s", args, s.Log())
	}
	stopAtCleanup(t, "sessiond", s, exited)
	return s
}

// stopAtCleanup stops the server when the test ends: SIGTERM, then SIGKILL
// after 10s, which fails the test. A failed test gets the server's log.
func stopAtCleanup(t testing.TB, name string, s *Server, exited <-chan struct{}) {
	t.Cleanup(func() {
		s.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			s.Cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not stop within 10s of SIGTERM", name)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, s.Log())
		}
	})
}

// StartRedis runs the system's redis-server on an ephemeral port and a Unix
// socket in a temporary directory, without persistence. It skips the test
// if redis-server is not installed and the test is not in CI (CI installs
// it through scripts/test.sh, so there it is a failure).
func StartRedis(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := Need(t, "redis-server")
	port := testkit.FreePort(t)
	sock := filepath.Join(t.TempDir(), "redis.sock")
	all := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--unixsocket", sock,
		"--save", "", "--appendonly", "no", "--daemonize", "no"}, args...)
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Unix: sock}
	runReference(t, s, exec.Command(bin, all...), "tcp", s.Addr)
	return s
}

// runReference starts a reference server's cmd as s, waits until it
// accepts on network addr, and stops it when the test ends.
func runReference(t testing.TB, s *Server, cmd *exec.Cmd, network, addr string) {
	t.Helper()
	s.Cmd = cmd
	cmd.Stdout = &lockedWriter{s: s}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	WaitDial(t, network, addr, exited, s)
	stopAtCleanup(t, filepath.Base(cmd.Path), s, exited)
}

// StartMemcached runs the system's memcached on an ephemeral loopback port,
// or, with unix set, on a Unix socket in a temporary directory instead
// (memcached serves one or the other). It skips or fails the test without
// memcached as StartRedis does without redis-server.
func StartMemcached(t testing.TB, unix bool) *Server {
	t.Helper()
	bin := Need(t, "memcached")
	s := &Server{}
	args := []string{"-U", "0", "-m", "64"}
	var network, addr string
	if unix {
		// memcached drops root for nobody before it creates the socket,
		// so the directory is one nobody can reach (t.TempDir's parent
		// is private to root).
		dir, err := os.MkdirTemp("", "memcached-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		s.MemcacheUnix = filepath.Join(dir, "memcached.sock")
		args = append(args, "-s", s.MemcacheUnix)
		network, addr = "unix", s.MemcacheUnix
	} else {
		s.MemcacheAddr = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
		host, port, _ := net.SplitHostPort(s.MemcacheAddr)
		args = append(args, "-l", host, "-p", port)
		network, addr = "tcp", s.MemcacheAddr
	}
	if os.Getuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses to run as root without -u
	}
	runReference(t, s, exec.Command(bin, args...), network, addr)
	return s
}

type lockedWriter struct{ s *Server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

// WaitDial waits until addr accepts connections, for up to 15s.
func WaitDial(t testing.TB, network, addr string, exited <-chan struct{}, s *Server) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("server exited before accepting on %s:\n%s", addr, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept within 15s: %v\n%s", addr, err, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Need returns the path of an installed program. Without it, the test is
// skipped outside CI and fails in CI, where scripts/test.sh installs it.
func Need(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; scripts/test.sh should have installed it", program)
	}
	t.Skipf("%s is not installed (scripts/test.sh installs it)", program)
	return ""
}

// Context returns a context that ends with the test or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// cleanEnv is the environment without SESSIOND_ variables, so that a
// developer's settings do not leak into the tests.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") {
			env = append(env, kv)
		}
	}
	return env
}

// Reference returns the reference server the tests run against instead of
// sessiond, from COMPAT_TARGET: "redis", "memcached", or "" for sessiond.
func Reference() string { return os.Getenv("COMPAT_TARGET") }

// Target says which server StartTarget starts.
type Target struct {
	// Unix also opens a Unix socket (Server.Unix).
	Unix bool
	// Password requires AUTH.
	Password string
	// Memcache serves the memcached text protocol (Server.MemcacheAddr,
	// or Server.MemcacheUnix with Unix) besides the Redis protocol.
	Memcache bool
	// TLS also serves the Redis protocol over TLS (Server.TLSAddr) with
	// these files.
	TLS *TLSFiles
}

// TLSFiles are a TLS listener's files.
type TLSFiles struct {
	// Cert and Key are the server's certificate and its key.
	Cert, Key string
	// CA, if set, is the CA whose certificates clients must present.
	CA string
}

// args returns the TLS flags of sessiond, or with redis those of
// redis-server on port.
func (f *TLSFiles) args(redis bool, port int) []string {
	if redis {
		a := []string{"--tls-port", fmt.Sprint(port), "--tls-cert-file", f.Cert, "--tls-key-file", f.Key}
		if f.CA != "" {
			return append(a, "--tls-ca-cert-file", f.CA, "--tls-auth-clients", "yes")
		}
		return append(a, "--tls-auth-clients", "no")
	}
	a := []string{"--tls-addr", "127.0.0.1:0", "--tls-cert-file", f.Cert, "--tls-key-file", f.Key}
	if f.CA != "" {
		a = append(a, "--tls-ca-cert-file", f.CA)
	}
	return a
}

// StartTarget starts the server the compatibility tests run against:
// sessiond, or a reference that checks the tests themselves: the system's
// redis-server when COMPAT_TARGET=redis, its memcached when
// COMPAT_TARGET=memcached. A test the reference cannot serve (a memcached
// test against Redis, a Redis one against memcached) is skipped.
func StartTarget(t testing.TB, tg Target) *Server {
	t.Helper()
	switch ref := Reference(); {
	case ref == "memcached" && tg.Memcache:
		if tg.Password != "" {
			t.Skip("COMPAT_TARGET=memcached: memcached's text protocol has no password")
		}
		return StartMemcached(t, tg.Unix)
	case ref == "memcached" || ref == "redis" && tg.Memcache:
		t.Skipf("COMPAT_TARGET=%s does not serve this test's protocol", ref)
	case ref == "redis":
		var args []string
		if tg.Password != "" {
			args = append(args, "--requirepass", tg.Password)
		}
		if tg.TLS == nil {
			return StartRedis(t, args...)
		}
		port := testkit.FreePort(t)
		s := StartRedis(t, append(args, tg.TLS.args(true, port)...)...)
		s.TLSAddr = fmt.Sprintf("127.0.0.1:%d", port)
		return s
	}
	var args []string
	switch {
	case tg.Memcache && tg.Unix:
		args = append(args, "--memcache-unix", filepath.Join(t.TempDir(), "memcache.sock"))
	case tg.Memcache:
		args = append(args, "--memcache-addr", "127.0.0.1:0")
	case tg.Unix:
		args = append(args, "--unix", filepath.Join(t.TempDir(), "sessiond.sock"))
	}
	if tg.Password != "" {
		args = append(args, "--requirepass", tg.Password)
	}
	if tg.TLS != nil {
		args = append(args, tg.TLS.args(false, 0)...)
	}
	return Start(t, args...)
}
