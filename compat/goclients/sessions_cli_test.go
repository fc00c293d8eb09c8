package goclients

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// A user's sessions through `sessiond sessions list|revoke`, the binary run
// as a user runs it, over sessions an express app's connect-redis would
// write, written by go-redis. sessiond only: Redis has no such subcommand.

// runCLI runs `sessiond args...` with env (KEY=value) and none of the test's
// own SESSIOND_ variables, and returns its exit status and output.
func runCLI(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("sessiond %q: %v", args, err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sessiond %q still running after 60s", args)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

var listLine = regexp.MustCompile(`^(\S+)\tttl=(\d+|none)\twritten=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\tsize=(\d+)$`)

// TestSessionsCLI: list and revoke through the subcommand over TCP and a
// Unix socket, with and without a password, with the server found by
// flags, variables or the config file; then its failures.
func TestSessionsCLI(t *testing.T) {
	if harness.Reference() != "" {
		t.Skip("sessiond's own subcommand")
	}
	const pass = "s3cret"
	open := harness.Start(t, "--unix", filepath.Join(t.TempDir(), "s.sock"))
	locked := harness.StartEnv(t, []string{"SESSIOND_REQUIREPASS=" + pass}, "--unix", filepath.Join(t.TempDir(), "s.sock"))
	configFile := filepath.Join(t.TempDir(), "sessiond.toml")
	testkit.WriteFile(t, configFile, fmt.Appendf(nil, "addr = %q\nrequirepass = %q\nmaxmemory = \"1gb\"\n", locked.Addr, pass))

	for _, tt := range []struct {
		name string
		srv  *harness.Server
		// how returns the flags and variables that find srv.
		how func(s *harness.Server) (args, env []string)
	}{
		{"TCP", open, func(s *harness.Server) ([]string, []string) { return []string{"--addr", s.Addr}, nil }},
		{"Unix socket", open, func(s *harness.Server) ([]string, []string) {
			return []string{"--unix", s.Unix, "--addr", "127.0.0.1:1"}, nil // --unix first
		}},
		{"TCP with --requirepass", locked, func(s *harness.Server) ([]string, []string) {
			return []string{"--addr", s.Addr, "--requirepass", pass}, nil
		}},
		{"Unix socket with SESSIOND_ variables", locked, func(s *harness.Server) ([]string, []string) {
			return nil, []string{"SESSIOND_UNIX=" + s.Unix, "SESSIOND_REQUIREPASS=" + pass}
		}},
		{"the config file", locked, func(*harness.Server) ([]string, []string) { return []string{"--config", configFile}, nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newClient(t, clientOptions(tt.srv, variant{protocol: 3, password: map[bool]string{true: pass}[tt.srv == locked]}))
			ctx := testContext(t)
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			from, to := seedUsers(t, rdb)
			args, env := tt.how(tt.srv)
			run := func(action string, more ...string) string {
				t.Helper()
				code, out, errOut := runCLI(t, env, append(append([]string{"sessions", action}, more...), args...)...)
				if code != 0 || errOut != "" {
					t.Fatalf("sessiond sessions %s %q: exit %d, stderr %q", action, more, code, errOut)
				}
				return out
			}

			out := run("list", "--user", "alice")
			var keys []string
			var last time.Time
			for line := range strings.Lines(out) {
				m := listLine.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
				if m == nil {
					t.Fatalf("list printed %q, want KEY\\tttl=S\\twritten=TIME\\tsize=N", line)
				}
				keys = append(keys, m[1])
				if want := map[string]bool{"sess:a3": true}[m[1]]; (m[2] == "none") != want {
					t.Errorf("%s: ttl=%s, want none only for sess:a3", m[1], m[2])
				}
				if ttl, err := strconv.Atoi(m[2]); err == nil && (ttl > 3600 || ttl < 3500) {
					t.Errorf("%s: ttl=%d, want about 3600", m[1], ttl)
				}
				if m[4] != strconv.Itoa(len(passportValue("alice"))) {
					t.Errorf("%s: size=%s, want %d", m[1], m[4], len(passportValue("alice")))
				}
				w, _ := time.Parse(time.RFC3339, m[3])
				if w.Before(from) || w.After(to) || !last.IsZero() && !w.Before(last) {
					t.Errorf("%s: written=%s, want between %v and %v and before the line above's", m[1], m[3], from, to)
				}
				last = w
			}
			if got := strings.Join(keys, " "); got != "sess:a3 sess:a2 sess:a1" {
				t.Fatalf("list --user alice: %s, want sess:a3 sess:a2 sess:a1 (the most recently written first)", got)
			}
			if out := run("list", "--user", "carol"); out != "" {
				t.Errorf("list --user carol printed %q, want nothing", out)
			}

			if out := run("revoke", "--user", "alice", "--except", "sess:a2", "--except", "sess:bob"); out != "2\n" {
				t.Errorf("revoke --except sess:a2 printed %q, want \"2\\n\"", out)
			}
			for key, want := range map[string]int64{"sess:a1": 0, "sess:a2": 1, "sess:a3": 0, "sess:bob": 1, "sess:anon": 1} {
				if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != want {
					t.Errorf("after the revoke, EXISTS %s = %d (%v), want %d", key, n, err, want)
				}
			}
			if out := run("list", "--user", "alice"); !strings.HasPrefix(out, "sess:a2\t") || strings.Count(out, "\n") != 1 {
				t.Errorf("list after the revoke: %q, want sess:a2 alone", out)
			}
			if out := run("revoke", "--user", "alice"); out != "1\n" {
				t.Errorf("revoke printed %q, want \"1\\n\"", out)
			}
			if out := run("revoke", "--user", "alice"); out != "0\n" {
				t.Errorf("a second revoke printed %q, want \"0\\n\"", out)
			}
		})
	}

	// The failures: one line and exit 1.
	off := harness.Start(t, "--user-field", "")
	closed := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	missing := filepath.Join(t.TempDir(), "none.sock")
	for _, tt := range []struct {
		name string
		args []string
		want string // the line on stderr
	}{
		{"nothing listens", []string{"--addr", closed}, "sessiond sessions: cannot reach " + closed + ": connection refused"},
		{"no socket", []string{"--unix", missing}, "sessiond sessions: cannot reach " + missing + ": no such file or directory"},
		{"a wrong password", []string{"--addr", locked.Addr, "--requirepass", "wrong"},
			"sessiond sessions: AUTH at " + locked.Addr + ": WRONGPASS invalid username-password pair or user is disabled."},
		{"no password", []string{"--addr", locked.Addr},
			"sessiond sessions: SESSION.LIST at " + locked.Addr + ": NOAUTH Authentication required. (give the server's --requirepass, or SESSIOND_REQUIREPASS)"},
		{"the index off", []string{"--addr", off.Addr},
			"sessiond sessions: SESSION.LIST at " + off.Addr + ": ERR the user index is off (start sessiond with --user-field)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"sessions", "list", "--user", "alice"}, tt.args...)...)
			if code != 1 || errOut != tt.want+"\n" || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want 1, %q and nothing", code, errOut, out, tt.want+"\n")
			}
		})
	}
}
