package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// The sessions subcommand's command line: usage errors exit 2, and the
// server it tries is the one the server's own settings name, which a
// refused connection's line shows. The subcommand against a real server is
// tested in compat/goclients (sessions_cli_test.go), with go-redis writing
// the sessions.
func TestSessionsCommandLine(t *testing.T) {
	closed := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)) // nothing listens
	other := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.sock")
	file := filepath.Join(dir, "sessiond.toml")
	testkit.WriteFile(t, file, fmt.Appendf(nil, "addr = %q\nmaxmemory = \"1gb\"\n", other))
	badFile := filepath.Join(dir, "bad.toml")
	testkit.WriteFile(t, badFile, []byte("maxmem = 1\n"))

	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		// stderr is the whole of it, or with a trailing "...", its start.
		stderr string
	}{
		{"no action", []string{"sessions"}, nil, exitConfig, "Usage: sessiond sessions list --user ID [flags]\n..."},
		{"unknown action", []string{"sessions", "show", "--user", "a"}, nil, exitConfig,
			"sessiond sessions: unknown action \"show\" (want list or revoke); see sessiond sessions --help\n"},
		{"no user", []string{"sessions", "list"}, nil, exitConfig, "sessiond sessions: list needs --user ID; see sessiond sessions --help\n"},
		{"empty user", []string{"sessions", "revoke", "--user="}, nil, exitConfig, "sessiond sessions: revoke needs --user ID; see sessiond sessions --help\n"},
		{"a server flag", []string{"sessions", "list", "--user", "a", "--maxmemory", "1gb"}, nil, exitConfig,
			"sessiond sessions: unknown flag --maxmemory; see sessiond sessions --help\n"},
		{"except on list", []string{"sessions", "list", "--user", "a", "--except", "k"}, nil, exitConfig,
			"sessiond sessions: --except is revoke's, not list's; see sessiond sessions --help\n"},
		{"an argument", []string{"sessions", "list", "--user", "a", "extra"}, nil, exitConfig,
			"sessiond sessions: unexpected argument \"extra\" (list takes only flags); see sessiond sessions --help\n"},
		{"a bad variable", []string{"sessions", "list", "--user", "a"}, map[string]string{"SESSIOND_MAXMEMORY": "12XB"}, exitConfig,
			"sessiond sessions: config: maxmemory \"12XB\" (from SESSIOND_MAXMEMORY): unknown unit\n"},
		{"a bad file", []string{"sessions", "list", "--user", "a", "--config", badFile}, nil, exitConfig,
			"sessiond sessions: config: unknown key \"maxmem\" (in " + badFile + ")\n"},
		{"no address", []string{"sessions", "list", "--user", "a", "--addr="}, nil, exitFailed,
			"sessiond sessions: neither --unix nor --addr is set, so there is no server to reach (the subcommand does not speak TLS)\n"},

		{"--addr", []string{"sessions", "list", "--user", "a", "--addr", closed}, nil, exitFailed,
			"sessiond sessions: cannot reach " + closed + ": connection refused\n"},
		{"SESSIOND_ADDR", []string{"sessions", "revoke", "--user", "a"}, map[string]string{"SESSIOND_ADDR": closed}, exitFailed,
			"sessiond sessions: cannot reach " + closed + ": connection refused\n"},
		{"a flag over the variable", []string{"sessions", "list", "--user", "a", "--addr", closed}, map[string]string{"SESSIOND_ADDR": other}, exitFailed,
			"sessiond sessions: cannot reach " + closed + ": connection refused\n"},
		{"the file's addr", []string{"sessions", "list", "--user", "a", "--config", file}, nil, exitFailed,
			"sessiond sessions: cannot reach " + other + ": connection refused\n"},
		{"SESSIOND_CONFIG", []string{"sessions", "list", "--user", "a"}, map[string]string{"SESSIOND_CONFIG": file}, exitFailed,
			"sessiond sessions: cannot reach " + other + ": connection refused\n"},
		{"the variable over the file", []string{"sessions", "list", "--user", "a", "--config", file}, map[string]string{"SESSIOND_ADDR": closed}, exitFailed,
			"sessiond sessions: cannot reach " + closed + ": connection refused\n"},
		{"--unix before --addr", []string{"sessions", "list", "--user", "a", "--addr", closed, "--unix", missing}, nil, exitFailed,
			"sessiond sessions: cannot reach " + missing + ": no such file or directory\n"},
		{"SESSIOND_UNIX", []string{"sessions", "list", "--user", "a"}, map[string]string{"SESSIOND_UNIX": missing}, exitFailed,
			"sessiond sessions: cannot reach " + missing + ": no such file or directory\n"},
		{"--unix empty: TCP", []string{"sessions", "list", "--user", "a", "--unix=", "--addr", closed}, map[string]string{"SESSIOND_UNIX": missing}, exitFailed,
			"sessiond sessions: cannot reach " + closed + ": connection refused\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, envFrom(tt.env), &stdout, &stderr)
			got, want := stderr.String(), tt.stderr
			if prefix, ok := strings.CutSuffix(want, "..."); ok {
				if strings.HasPrefix(got, prefix) && strings.Contains(got, "-user id") {
					got = want
				}
			}
			if code != tt.code || got != want || stdout.Len() != 0 {
				t.Errorf("sessiond %q = %d\nstderr %q\nstdout %q\nwant %d, stderr %q and no stdout", tt.args, code, &stderr, &stdout, tt.code, want)
			}
		})
	}
}

// A first argument other than "sessions" is the server's: "sessions"
// elsewhere is an unexpected argument, not the subcommand.
func TestSessionsOnlyFirst(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "sessions", "list"}, noEnv, &stdout, &stderr)
	if want := "sessiond: config: unexpected argument \"sessions\" (sessiond takes only flags)\n"; code != exitConfig || stderr.String() != want {
		t.Errorf("run = %d, stderr %q; want %d, %q", code, &stderr, exitConfig, want)
	}
}

// The server's help names the subcommand.
func TestHelpNamesSessions(t *testing.T) {
	var b bytes.Buffer
	printUsage(&b)
	if !strings.Contains(b.String(), "sessiond sessions list|revoke --user ID") {
		t.Errorf("sessiond --help does not name the sessions subcommand:\n%s", b.String())
	}
}

func TestPrintableKey(t *testing.T) {
	for key, want := range map[string]string{
		"sess:abc":      "sess:abc",
		"sess:é":        "sess:é",
		"sess:a b":      `"sess:a b"`,
		"sess:a\tb":     `"sess:a\tb"`,
		"sess:a\nb":     `"sess:a\nb"`,
		"sess:\xff":     `"sess:\xff"`,
		`"quoted"`:      `"\"quoted\""`,
		"":              "",
		"sess:a\u200bb": `"sess:a\u200bb"`,
	} {
		if got := printableKey(key); got != want {
			t.Errorf("printableKey(%q) = %s, want %s", key, got, want)
		}
	}
}

func TestListedLine(t *testing.T) {
	for _, tt := range []struct {
		s    listedSession
		want string
	}{
		{listedSession{"sess:a", 86_399_500, 1_796_457_600_123, 512}, "sess:a\tttl=86400\twritten=2026-12-05T08:00:00.123Z\tsize=512"},
		{listedSession{"sess:b", 86_399_499, 1_796_457_600_000, 0}, "sess:b\tttl=86399\twritten=2026-12-05T08:00:00.000Z\tsize=0"},
		{listedSession{"sess:c", -1, 0, 3}, "sess:c\tttl=none\twritten=1970-01-01T00:00:00.000Z\tsize=3"},
	} {
		if got := tt.s.line(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestParseListed(t *testing.T) {
	bulk := func(s string) reply { return reply{kind: '$', text: s} }
	num := func(n int64) reply { return reply{kind: ':', n: n} }
	full := []reply{bulk("key"), bulk("sess:a"), bulk("ttl"), num(5000), bulk("written"), num(7), bulk("size"), num(9)}
	if s, err := parseListed(reply{kind: '*', elems: full}); err != nil || s != (listedSession{"sess:a", 5000, 7, 9}) {
		t.Errorf("parseListed(fields) = %+v, %v", s, err)
	}
	// A field a newer server adds is skipped.
	more := append([]reply{bulk("device"), bulk("phone")}, full...)
	if s, err := parseListed(reply{kind: '*', elems: more}); err != nil || s.key != "sess:a" {
		t.Errorf("parseListed(with a new field) = %+v, %v", s, err)
	}
	for name, e := range map[string]reply{
		"not an array":  bulk("sess:a"),
		"odd":           {kind: '*', elems: full[:7]},
		"no size":       {kind: '*', elems: full[:6]},
		"ttl as a bulk": {kind: '*', elems: append(append([]reply{}, full[:3]...), append([]reply{bulk("5000")}, full[4:]...)...)},
	} {
		if _, err := parseListed(e); err == nil {
			t.Errorf("parseListed(%s): no error", name)
		}
	}
}

// An interrupt (SIGINT, which main turns into ctx's end) stops a wait for a
// server that does not answer, at once rather than at the command's
// timeout.
func TestSessionsInterrupted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"sessions", "list", "--user", "a", "--addr", l.Addr().String()}, noEnv, &stdout, &stderr)
	if took := time.Since(start); code != exitFailed || stderr.String() != "sessiond sessions: interrupted\n" || took > commandTimeout/2 {
		t.Errorf("run = %d, stderr %q after %v; want %d, \"sessiond sessions: interrupted\\n\" well within %v", code, &stderr, took, exitFailed, commandTimeout)
	}
}

// TestSessionsHelp: asked for, the usage goes to stdout and the exit
// status is 0, as sessiond --help's.
func TestSessionsHelp(t *testing.T) {
	for _, args := range [][]string{{"sessions", "--help"}, {"sessions", "-h"}, {"sessions", "help"}, {"sessions", "revoke", "-h"}, {"sessions", "list", "--help"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, envFrom(nil), &stdout, &stderr)
		if code != exitOK || stderr.Len() != 0 || !strings.HasPrefix(stdout.String(), "Usage: sessiond sessions list --user ID [flags]\n") {
			t.Errorf("sessiond %q = %d\nstdout %q\nstderr %q\nwant 0, the usage on stdout", args, code, &stdout, &stderr)
		}
	}
}
