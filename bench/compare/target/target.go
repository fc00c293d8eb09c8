// Package target starts the servers that the benchmarks compare —
// sessiond, built from this repository, and redis-server from the system —
// on a loopback port and a Unix socket, and reads their CPU time and
// resident memory from /proc.
//
// It is shared by bench/compare and bench/e2e, and only works on Linux.
package target

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// Names of the servers.
const (
	Sessiond = "sessiond"
	Redis    = "redis"
)

// Server is a running server process.
type Server struct {
	// Name is Sessiond or Redis.
	Name string
	// Addr is the loopback TCP address, Unix the socket path.
	Addr, Unix string
	// Cmd is the process.
	Cmd *exec.Cmd

	logPath string
	done    chan struct{}
	waitErr error
}

// Config says how to start a server.
type Config struct {
	// Name is Sessiond or Redis.
	Name string
	// Binary is the program to run. If blank, it defaults to
	// "redis-server" for Redis; for Sessiond it is required (see Build).
	Binary string
	// Dir holds the Unix socket and the server's log. Required.
	Dir string
	// Args are added to the command line.
	Args []string
}

// Start starts a server on a free loopback port and a socket in cfg.Dir,
// and returns once it answers PING on both.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Name:    cfg.Name,
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Unix:    filepath.Join(cfg.Dir, cfg.Name+".sock"),
		logPath: filepath.Join(cfg.Dir, cfg.Name+".log"),
		done:    make(chan struct{}),
	}
	var args []string
	switch cfg.Name {
	case Sessiond:
		if cfg.Binary == "" {
			return nil, errors.New("target: sessiond needs a binary (target.Build)")
		}
		args = []string{"--addr", s.Addr, "--unix", s.Unix}
	case Redis:
		if cfg.Binary == "" {
			cfg.Binary = "redis-server"
		}
		// No persistence, no background saves: an in-memory store,
		// like sessiond. io-threads stay at Redis's default (off).
		args = []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--unixsocket", s.Unix, "--unixsocketperm", "700",
			"--save", "", "--appendonly", "no",
			"--daemonize", "no", "--dir", cfg.Dir, "--logfile", "",
		}
	default:
		return nil, fmt.Errorf("target: unknown server %q", cfg.Name)
	}
	args = append(args, cfg.Args...)
	_ = os.Remove(s.Unix)
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.Cmd = exec.Command(cfg.Binary, args...)
	s.Cmd.Env = cleanEnv()
	s.Cmd.Stdout, s.Cmd.Stderr = logf, logf
	// Its own process group, so a Ctrl-C in the terminal reaches us
	// first and we stop it in order.
	s.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.Cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("target: start %s: %w", cfg.Name, err)
	}
	go func() {
		s.waitErr = s.Cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("target: %s did not become ready: %w\n%s", cfg.Name, err, s.LogTail(20))
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		ok := true
		for _, nw := range [][2]string{{"tcp", s.Addr}, {"unix", s.Unix}} {
			rep, err := load.Do(ctx, nw[0], nw[1], "PING")
			if err == nil && rep.IsError() {
				err = errors.New(rep.Err)
			}
			if err != nil {
				ok, last = false, fmt.Errorf("PING on %s %s: %w", nw[0], nw[1], err)
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited: %v", s.waitErr)
		case <-ctx.Done():
			return last
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.Cmd.Process.Pid }

// Stop sends SIGTERM, waits up to 10 seconds, then kills.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.Cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("target: %s did not stop on SIGTERM; killed", s.Name)
	}
	return nil
}

// Alive reports whether the process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// ExitErr returns how the process ended (nil while it runs or if it
// exited 0): a signal from outside shows here.
func (s *Server) ExitErr() error {
	if s.Alive() {
		return nil
	}
	return s.waitErr
}

// LogTail returns the last n lines of the server's output.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CPU returns the server's CPU time so far (user + system, all threads).
func (s *Server) CPU() (time.Duration, error) { return ProcessCPU(s.Pid()) }

// RSS returns the server's resident set size in bytes.
func (s *Server) RSS() (int64, error) { return ProcessRSS(s.Pid()) }

// ProcessCPU returns utime+stime of a process from /proc/PID/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b, ClockTick())
}

// parseStatCPU reads fields 14 (utime) and 15 (stime) of /proc/PID/stat,
// counted after the command name, which may hold spaces and parentheses.
func parseStatCPU(stat []byte, tick time.Duration) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("target: /proc stat %q: no command name", stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so utime (14) is f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("target: /proc stat: %d fields", len(f)+2)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("target: /proc stat: %w", err)
	}
	return time.Duration(ut+st) * tick, nil
}

// ProcessRSS returns VmRSS of a process from /proc/PID/status, in bytes.
func ProcessRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("target: VmRSS %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("target: no VmRSS in /proc status")
}

var clockTick = sync.OnceValue(func() time.Duration {
	// sysconf(_SC_CLK_TCK) needs cgo; getconf asks it for us. Linux
	// has used 100 Hz for user-visible ticks on every common platform.
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if hz, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && hz > 0 {
			return time.Second / time.Duration(hz)
		}
	}
	return 10 * time.Millisecond
})

// ClockTick returns the length of the clock tick /proc counts CPU time in.
func ClockTick() time.Duration { return clockTick() }

// LoadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg,
// to say how busy the machine was around a benchmark.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Build builds cmd/sessiond of the repository at root into dir and
// returns the binary's path. The binary is named sdbench, not sessiond:
// on a shared machine, someone's "pkill sessiond" should not stop a
// benchmark halfway.
func Build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "sdbench")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sessiond")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("target: go build ./cmd/sessiond: %v\n%s", err, out)
	}
	return bin, nil
}

// RepoRoot finds the sessiond module's root from the working directory
// up, so that the benchmarks run from anywhere inside the repository.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module github.com/sessiond/sessiond\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("target: not inside the sessiond repository (no go.mod of github.com/sessiond/sessiond above the working directory)")
		}
		dir = parent
	}
}

// EnsureRedis makes sure redis-server is installed: if it is missing and
// we are root, it installs Debian's redis-server and redis-tools, as the
// README's setup does; otherwise it says what to run.
func EnsureRedis(ctx context.Context, logf func(string, ...any)) (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("target: redis-server not found; install it: apt-get install -y redis-server redis-tools")
	}
	logf("redis-server not found: apt-get install -y redis-server redis-tools")
	for _, args := range [][]string{
		{"apt-get", "update", "-qq"},
		{"apt-get", "install", "-y", "-qq", "redis-server", "redis-tools"},
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("target: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return exec.LookPath("redis-server")
}

// Version returns the first line a binary prints for --version.
func Version(binary string) string {
	out, err := exec.Command(binary, "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it; Start then fails and says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cleanEnv is the environment without SESSIOND_ variables, so that a
// developer's settings do not change what is measured.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") {
			env = append(env, kv)
		}
	}
	return env
}
