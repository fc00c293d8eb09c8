package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

func TestRun(t *testing.T) {
	// A context already done: run starts, sees the "signal" at once and
	// stops, so the whole life runs without waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--log-format=json", "--maxmemory=64mb", "--addr=127.0.0.1:0"}, noEnv, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("run = %d, want %d; stderr:\n%s", code, exitOK, &stderr)
	}
	lines := logLines(t, stderr.String())
	if len(lines) == 4 && lines[0]["msg"] == "listening" {
		lines = lines[1:]
	}
	if len(lines) == 3 && strings.Contains(lines[1]["msg"].(string), "will not survive a restart") {
		lines = append(lines[:1], lines[2])
	}
	if len(lines) != 2 || lines[0]["msg"] != "sessiond started" || lines[1]["msg"] != "sessiond stopped" {
		t.Fatalf("log:\n%s\nwant a start and a stop line", &stderr)
	}
	start := lines[0]
	for key, want := range map[string]any{
		"version":          version(),
		"go":               runtime.Version(),
		"pid":              float64(os.Getpid()),
		"maxmemory":        float64(64 << 20),
		"maxmemory-policy": "noeviction",
	} {
		if start[key] != want {
			t.Errorf("start line %s = %v, want %v", key, start[key], want)
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", &stdout)
	}
}

func TestRunConfigError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := func(name string) (string, bool) {
		if name == "SESSIOND_MAXMEMORY" {
			return "12XB", true
		}
		return "", false
	}
	code := run(context.Background(), nil, env, &stdout, &stderr)
	want := "sessiond: config: maxmemory \"12XB\" (from SESSIOND_MAXMEMORY): unknown unit\n"
	if code != exitConfig || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("run = %d, stderr %q, stdout %q; want %d, %q and nothing", code, &stderr, &stdout, exitConfig, want)
	}
}

// TestBinary builds sessiond and runs it as a user would.
func TestBinary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGINT")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	bin := filepath.Join(t.TempDir(), "sessiond")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The tests' own SESSIOND_ variables, if any, must not reach the binary.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") {
			env = append(env, kv)
		}
	}
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return cmd
	}

	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run("stops on "+sig.String(), func(t *testing.T) {
			cmd := command("--addr", "127.0.0.1:0", "--maxmemory", "1gb", "--maxmemory-policy", "allkeys-lru")
			lines := startLines(t, cmd)
			start := waitLine(t, lines, "sessiond started")
			for _, attr := range []string{
				"version=", "go=go", "pid=" + strconv.Itoa(cmd.Process.Pid), "maxmemory=1073741824", "maxmemory-policy=allkeys-lru",
			} {
				if !strings.Contains(start, " "+attr) {
					t.Errorf("start line has no %s: %s", attr, start)
				}
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			stop := waitLine(t, lines, "sessiond stopped")
			if !strings.Contains(stop, sig.String()) {
				t.Errorf("stop line does not name %s: %s", sig, stop)
			}
			for rest := range lines {
				t.Errorf("after the stop line: %s", rest)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit: %v, want status 0", err)
			}
		})
	}

	t.Run("http", func(t *testing.T) {
		cmd := command("--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
		lines := startLines(t, cmd)
		var addr string // from the listening line, before the started one
		for line := range lines {
			if strings.Contains(line, "msg=listening proto=http ") {
				_, addr, _ = strings.Cut(line, " addr=")
				addr, _, _ = strings.Cut(addr, " ")
			}
			if strings.Contains(line, `msg="sessiond started"`) {
				break
			}
		}
		if addr == "" {
			t.Fatal("no HTTP listening line before the started line")
		}
		base := "http://" + addr
		for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": `{"ready":true}` + "\n"} {
			testkit.Eventually(t, 10*time.Second, path+" answers "+want, func() bool {
				resp, err := http.Get(base + path)
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode == 200 && string(body) == want
			})
		}
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("\nsessiond_sessions 0\n")) {
			t.Errorf("GET /metrics: %d\n%.300s", resp.StatusCode, body)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		waitLine(t, lines, "sessiond stopped")
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v, want status 0", err)
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := command("--version").Output()
		if err != nil {
			t.Fatalf("sessiond --version: %v", err)
		}
		if !regexp.MustCompile(`^sessiond \S+ go\S+\n$`).Match(out) {
			t.Errorf("sessiond --version printed %q, want \"sessiond VERSION GOVERSION\\n\"", out)
		}
	})

	t.Run("help", func(t *testing.T) {
		out, err := command("--help").Output()
		if err != nil || !bytes.Contains(out, []byte("-maxmemory-policy")) {
			t.Errorf("sessiond --help: %v\n%s", err, out)
		}
	})

	t.Run("address in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var stdout, stderr bytes.Buffer
		cmd := command("--addr", l.Addr().String())
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitFailed {
			t.Errorf("exit: %v, want status %d", err, exitFailed)
		}
		want := "sessiond: the RESP listener (--addr " + l.Addr().String() + "): address already in use\n"
		if got := stderr.String(); got != want {
			t.Errorf("stderr = %q, want %q", got, want)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{name: "unknown flag", args: []string{"--maxmem=1gb"}, want: "sessiond: unknown flag --maxmem; see sessiond --help\n"},
		{name: "sync replicas without a cluster", args: []string{"--sync-replicas", "1"}, want: "sessiond: config: sync-replicas waits for cluster peers, and cluster-addr is not set (a single server has none)\n"},
		{name: "bad flag value", args: []string{"--maxmemory", "12XB"}, want: "sessiond: config: maxmemory \"12XB\" (from --maxmemory): unknown unit\n"},
		{name: "bad variable", env: "SESSIOND_MAXMEMORY_POLICY=lru", want: "sessiond: config: maxmemory-policy \"lru\" (from SESSIOND_MAXMEMORY_POLICY): unknown policy (want noeviction, volatile-ttl or allkeys-lru)\n"},
		{name: "pprof without http", args: []string{"--http-pprof"}, want: "sessiond: config: http-pprof serves on the HTTP listener, and http-addr is not set\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := command(tt.args...)
			if tt.env != "" {
				cmd.Env = append(cmd.Env, tt.env)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitConfig {
				t.Errorf("exit: %v, want status %d", err, exitConfig)
			}
			if stderr.String() != tt.want {
				t.Errorf("stderr:\n got %q\nwant %q", &stderr, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", &stdout)
			}
		})
	}
}

// startLines starts cmd, kills it when the test ends, and returns its
// stderr's lines.
func startLines(t *testing.T, cmd *exec.Cmd) <-chan string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	return lines
}

// waitLine returns the first line from lines that contains msg, failing the
// test if none comes within a while.
func waitLine(t *testing.T, lines <-chan string, msg string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before %q", msg)
			}
			if strings.Contains(line, "msg=\""+msg+"\"") {
				return line
			}
			t.Logf("stderr: %s", line)
		case <-timeout:
			t.Fatalf("no %q line within 30s", msg)
		}
	}
}

// logLines decodes JSON log lines.
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}
