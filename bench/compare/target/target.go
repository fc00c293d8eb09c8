// Package target starts the servers that the benchmarks compare —
// sessiond, built from this repository, and redis-server and memcached
// from the system — on a loopback port and (but for memcached) a Unix
// socket, and reads their CPU time and resident memory from /proc.
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
	Sessiond  = "sessiond"
	Redis     = "redis"
	Memcached = "memcached"
)

// Server is a running server process.
type Server struct {
	// Name is Sessiond, Redis or Memcached.
	Name string
	// Addr is the loopback TCP address of the server's own protocol
	// (RESP for sessiond and Redis), Unix the socket path, empty for
	// memcached, which serves either TCP or a socket.
	Addr, Unix string
	// MemcacheAddr is the loopback TCP address that speaks the
	// memcached text protocol: Addr for Memcached, a second port for
	// sessiond started with Config.Memcache, else empty.
	MemcacheAddr string
	// Cmd is the process.
	Cmd *exec.Cmd

	logPath string
	done    chan struct{}
	waitErr error
}

// Config says how to start a server.
type Config struct {
	// Name is Sessiond, Redis or Memcached.
	Name string
	// Binary is the program to run. If blank, it defaults to
	// "redis-server" for Redis and "memcached" for Memcached; for
	// Sessiond it is required (see Build).
	Binary string
	// Memcache makes sessiond also serve the memcached text protocol
	// (--memcache-addr) on a second free port, Server.MemcacheAddr.
	// Memcached always does; Redis cannot.
	Memcache bool
	// Dir holds the Unix socket and the server's log. Required.
	Dir string
	// Args are added to the command line.
	Args []string
	// CPUs, if set, is the list of CPUs the server may run on, in
	// taskset's form ("0", "0-1"): with the load generator kept to the
	// others, the two do not take turns on the same cores. sessiond's
	// GOMAXPROCS follows (Go counts the CPUs it may use).
	CPUs string
}

// Start starts a server on a free loopback port and a socket in cfg.Dir,
// and returns once it answers on every listener: PING over RESP, version
// over the memcached protocol.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	// Two ports, both held until the kernel has given each: the second
	// is sessiond's memcached listener if it has one.
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	port := ports[0]
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
		if cfg.Memcache {
			s.MemcacheAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
			args = append(args, "--memcache-addr", s.MemcacheAddr)
		}
	case Redis:
		if cfg.Memcache {
			return nil, errors.New("target: redis does not speak the memcached protocol")
		}
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
	case Memcached:
		if cfg.Binary == "" {
			cfg.Binary = "memcached"
		}
		// TCP only: memcached serves either TCP or a socket. No UDP;
		// 1 GiB of cache, so that no benchmark evicts; its default
		// threads (4).
		s.Unix, s.MemcacheAddr = "", s.Addr
		args = []string{"-m", "1024", "-U", "0", "-l", "127.0.0.1", "-p", strconv.Itoa(port)}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "nobody") // memcached refuses to run as root
		}
	default:
		return nil, fmt.Errorf("target: unknown server %q", cfg.Name)
	}
	args = append(args, cfg.Args...)
	if s.Unix != "" {
		_ = os.Remove(s.Unix)
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.Cmd = exec.Command(cfg.Binary, args...)
	if cfg.CPUs != "" {
		// taskset sets the affinity and execs the server: the process
		// and its PID are the server's.
		s.Cmd = exec.Command("taskset", append([]string{"-c", cfg.CPUs, cfg.Binary}, args...)...)
	}
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
	// Every listener must answer: PING over RESP, version over the
	// memcached protocol.
	type listener struct {
		network, addr string
		memcache      bool
	}
	var ls []listener
	if s.Name != Memcached {
		ls = append(ls, listener{"tcp", s.Addr, false}, listener{"unix", s.Unix, false})
	}
	if s.MemcacheAddr != "" {
		ls = append(ls, listener{"tcp", s.MemcacheAddr, true})
	}
	var last error
	for {
		ok := true
		for _, l := range ls {
			cmd, do := "PING", load.Do
			if l.memcache {
				cmd, do = "version", load.DoMemcache
			}
			rep, err := do(ctx, l.network, l.addr, cmd)
			if err == nil && rep.IsError() {
				err = errors.New(rep.Err)
			}
			if err != nil {
				ok, last = false, fmt.Errorf("%s on %s %s: %w", cmd, l.network, l.addr, err)
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

// CPUTime returns the server's CPU time so far, user and system apart.
func (s *Server) CPUTime() (CPUTime, error) { return ProcessCPUTime(s.Pid()) }

// RSS returns the server's resident set size in bytes.
func (s *Server) RSS() (int64, error) { return ProcessRSS(s.Pid()) }

// CPUTime is a process's CPU time split as /proc counts it: User in the
// process's own code (utime), System in the kernel on its behalf (stime).
type CPUTime struct {
	User, System time.Duration
}

// Total returns user plus system time.
func (c CPUTime) Total() time.Duration { return c.User + c.System }

// Add returns the sum of c and d.
func (c CPUTime) Add(d CPUTime) CPUTime {
	return CPUTime{User: c.User + d.User, System: c.System + d.System}
}

// Sub returns the CPU time spent from earlier to c.
func (c CPUTime) Sub(earlier CPUTime) CPUTime {
	return CPUTime{User: c.User - earlier.User, System: c.System - earlier.System}
}

// ProcessCPU returns utime+stime of a process from /proc/PID/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	c, err := ProcessCPUTime(pid)
	return c.Total(), err
}

// ProcessCPUTime returns utime and stime of a process from
// /proc/PID/stat.
func ProcessCPUTime(pid int) (CPUTime, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPUTime{}, err
	}
	return parseStatCPU(b, ClockTick())
}

// parseStatCPU reads fields 14 (utime) and 15 (stime) of /proc/PID/stat,
// counted after the command name, which may hold spaces and parentheses.
func parseStatCPU(stat []byte, tick time.Duration) (CPUTime, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return CPUTime{}, fmt.Errorf("target: /proc stat %q: no command name", stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so utime (14) is f[11], stime f[12].
	if len(f) < 13 {
		return CPUTime{}, fmt.Errorf("target: /proc stat: %d fields", len(f)+2)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return CPUTime{}, fmt.Errorf("target: /proc stat: %w", err)
	}
	return CPUTime{User: time.Duration(ut) * tick, System: time.Duration(st) * tick}, nil
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

// Measure dials cfg's load on s, runs it for warmup unmeasured, then for d,
// and returns what the load generator measured and the server's CPU time
// over the measured run alone.
func Measure(ctx context.Context, s *Server, cfg load.Config, warmup, d time.Duration) (load.Result, CPUTime, error) {
	g, err := load.Dial(ctx, cfg)
	if err != nil {
		return load.Result{}, CPUTime{}, err
	}
	defer g.Close()
	if warmup > 0 {
		if _, err := g.Run(ctx, warmup, 0); err != nil {
			return load.Result{}, CPUTime{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	cpu0, err := s.CPUTime()
	if err != nil {
		return load.Result{}, CPUTime{}, err
	}
	res, err := g.Run(ctx, d, 0)
	cpu1, err2 := s.CPUTime()
	if err != nil {
		return res, CPUTime{}, fmt.Errorf("%w (after %d ops, %d error replies)", err, res.Ops, res.Errors)
	}
	if err2 != nil {
		return res, CPUTime{}, err2
	}
	return res, cpu1.Sub(cpu0), nil
}

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

// Binary returns the program to run server name with: given, if not
// empty; else sessiond built from the repository into dir, or the
// redis-server or memcached installed (EnsureRedis, EnsureMemcached).
func Binary(ctx context.Context, name, given, dir string, logf func(string, ...any)) (string, error) {
	if given != "" {
		return given, nil
	}
	switch name {
	case Sessiond:
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		logf("go build ./cmd/sessiond")
		return Build(ctx, root, dir)
	case Redis:
		return EnsureRedis(ctx, logf)
	case Memcached:
		return EnsureMemcached(ctx, logf)
	}
	return "", fmt.Errorf("target: no server %q", name)
}

// EnsureRedis makes sure redis-server is installed: if it is missing and
// we are root, it installs Debian's redis-server and redis-tools, as the
// README's setup does; otherwise it says what to run.
func EnsureRedis(ctx context.Context, logf func(string, ...any)) (string, error) {
	return ensure(ctx, logf, "redis-server", "redis-server", "redis-tools")
}

// EnsureMemcached makes sure memcached is installed: if it is missing
// and we are root, it installs Debian's memcached, as the README's setup
// does; otherwise it says what to run.
func EnsureMemcached(ctx context.Context, logf func(string, ...any)) (string, error) {
	return ensure(ctx, logf, "memcached", "memcached")
}

// ensure returns the path of program, installing Debian's packages with
// apt-get first if it is missing and we are root.
func ensure(ctx context.Context, logf func(string, ...any), program string, packages ...string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	install := "apt-get install -y " + strings.Join(packages, " ")
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("target: %s not found; install it: %s", program, install)
	}
	logf("%s not found: %s", program, install)
	for _, args := range [][]string{
		{"apt-get", "update", "-qq"},
		append([]string{"apt-get", "install", "-y", "-qq"}, packages...),
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("target: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return exec.LookPath(program)
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

// freePorts asks the kernel for n different free loopback ports. Another
// process may take one before the server binds it; Start then fails and
// says so.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
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

// Affinity returns the CPUs this process may run on, as the kernel lists
// them (Cpus_allowed_list in /proc/self/status).
func Affinity() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
