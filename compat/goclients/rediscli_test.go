package goclients

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/compat/harness"
)

// tcpArgs are redis-cli's and redis-benchmark's flags to reach srv over TCP.
func tcpArgs(t *testing.T, srv *harness.Server) []string {
	host, port := hostPort(t, srv.Addr)
	return []string{"-h", host, "-p", port}
}

// cli runs redis-cli with the connection flags conn and then args.
func cli(t *testing.T, conn []string, args ...string) output {
	t.Helper()
	return runProgram(t, "redis-cli", append(slices.Clone(conn), args...)...)
}

// wantOutput checks a run that should succeed with exactly stdout. When
// its output is not a terminal, redis-cli prints replies bare: a nil as
// an empty line, an error as its text.
func wantOutput(t *testing.T, o output, stdout string) {
	t.Helper()
	if o.err != nil || o.stdout != stdout {
		t.Errorf("want stdout %q, got\n%v", stdout, o)
	}
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestRedisCLI runs redis-cli commands against the server and reads what
// it prints.
func TestRedisCLI(t *testing.T) {
	t.Parallel()
	harness.Need(t, "redis-cli")
	srv := startTarget(t, "")
	tcp := tcpArgs(t, srv)
	unix := []string{"-s", srv.Unix}

	t.Run("commands", func(t *testing.T) {
		cases := []struct {
			name   string
			conn   []string
			args   []string
			stdout string
		}{
			{"ping", tcp, []string{"PING"}, "PONG\n"},
			{"set", tcp, []string{"SET", "sess:cli", "hello world"}, "OK\n"},
			{"get", tcp, []string{"GET", "sess:cli"}, "hello world\n"},
			{"get-missing", tcp, []string{"GET", "sess:missing"}, "\n"},
			{"ttl-none", tcp, []string{"TTL", "sess:cli"}, "-1\n"},
			{"ttl-missing", tcp, []string{"TTL", "sess:missing"}, "-2\n"},
			{"resp3-ping", append([]string{"-3"}, tcp...), []string{"PING"}, "PONG\n"},
			{"resp3-get", append([]string{"-3"}, tcp...), []string{"GET", "sess:cli"}, "hello world\n"},
			{"resp3-get-missing", append([]string{"-3"}, tcp...), []string{"GET", "sess:missing"}, "\n"},
			{"unix-ping", unix, []string{"PING"}, "PONG\n"},
			{"unix-get", unix, []string{"GET", "sess:cli"}, "hello world\n"},
			{"unix-resp3-get", append([]string{"-3"}, unix...), []string{"GET", "sess:cli"}, "hello world\n"},
			{"del", tcp, []string{"DEL", "sess:cli"}, "1\n"},
			{"get-deleted", unix, []string{"GET", "sess:cli"}, "\n"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantOutput(t, cli(t, c.conn, c.args...), c.stdout)
			})
		}
	})

	t.Run("hello-3", func(t *testing.T) {
		o := cli(t, append([]string{"-3"}, tcp...), "HELLO", "3")
		if o.err != nil {
			t.Fatalf("HELLO 3:\n%v", o)
		}
		// A RESP3 map prints as one "key value" line per field.
		fields := map[string]string{}
		for _, l := range lines(o.stdout) {
			k, v, _ := strings.Cut(l, " ")
			fields[k] = v
		}
		for _, k := range []string{"server", "version", "id", "mode", "role", "modules"} {
			if _, found := fields[k]; !found {
				t.Errorf("HELLO 3: no field %q in\n%s", k, o.stdout)
			}
		}
		if fields["proto"] != "3" {
			t.Errorf("HELLO 3: proto %q, want 3, in\n%s", fields["proto"], o.stdout)
		}
	})

	// This one empties the keyspace; the subtests after it do not read it.
	t.Run("scan-dbsize", func(t *testing.T) {
		ctx := testContext(t)
		rdb := newClient(t, clientOptions(srv, variant{protocol: 3}))
		want(t, rdb.FlushDB(ctx), "OK")
		var sess, ks []string
		pipe := rdb.Pipeline()
		for i := range 120 {
			k := fmt.Sprintf("sess:%03d", i)
			sess = append(sess, k)
			pipe.Set(ctx, k, "v", 0)
			ks = append(ks, fmt.Sprintf("other:%03d", i))
			pipe.Set(ctx, ks[i], "v", 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		all := append(slices.Clone(sess), ks...)
		scans := []struct {
			conn []string
			args []string
			want []string
		}{
			{tcp, []string{"--scan", "--pattern", "sess:*"}, sess},
			{unix, []string{"--scan", "--pattern", "sess:*"}, sess},
			{tcp, []string{"--scan"}, all},
			{tcp, []string{"--scan", "--pattern", "nothing:*"}, nil},
		}
		for _, sc := range scans {
			o := cli(t, sc.conn, sc.args...)
			if o.err != nil {
				t.Fatalf("%s:\n%v", strings.Join(sc.args, " "), o)
			}
			// SCAN may repeat a key; redis-cli prints what it gets.
			got := slices.Compact(slices.Sorted(slices.Values(lines(o.stdout))))
			wantStrings(t, "redis-cli "+strings.Join(sc.args, " "), got, sc.want)
		}
		wantOutput(t, cli(t, tcp, "DBSIZE"), "240\n")
		wantOutput(t, cli(t, unix, "DBSIZE"), "240\n")
	})

	// After scan-dbsize, which left 240 keys of a 1-byte value; this one
	// adds its own.
	t.Run("bigkeys", func(t *testing.T) {
		ctx := testContext(t)
		rdb := newClient(t, clientOptions(srv, variant{protocol: 2}))
		want(t, rdb.Set(ctx, "big:one", strings.Repeat("x", 5000), 0), "OK")
		want(t, rdb.Set(ctx, "big:two", strings.Repeat("y", 300), 0), "OK")
		o := cli(t, tcp, "--bigkeys")
		if o.err != nil {
			t.Fatalf("redis-cli --bigkeys:\n%v", o)
		}
		for _, line := range []string{
			`Biggest string found '"big:one"' has 5000 bytes`,
			"242 strings with 5540 bytes (100.00% of keys, avg size 22.89)",
		} {
			if !strings.Contains(o.stdout, line) {
				t.Errorf("redis-cli --bigkeys: no line %q in\n%s", line, o.stdout)
			}
		}
	})

	t.Run("info-server", func(t *testing.T) {
		o := cli(t, tcp, "INFO", "server")
		if o.err != nil {
			t.Fatalf("INFO server:\n%v", o)
		}
		if !strings.HasPrefix(o.stdout, "# Server\r\n") {
			t.Errorf("INFO server does not start with \"# Server\\r\\n\":\n%s", o.stdout)
		}
		if v := parseInfo(o.stdout)["Server"]["redis_version"]; v == "" {
			t.Errorf("INFO server: no redis_version in\n%s", o.stdout)
		}
	})

	// With -e, an error reply makes redis-cli exit 1: scripts rely on it.
	t.Run("error-exit", func(t *testing.T) {
		o := cli(t, tcp, "-e", "SET", "sess:k")
		var exit *exec.ExitError
		if !errors.As(o.err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("want exit status 1, got\n%v", o)
		}
		if !strings.Contains(o.stdout+o.stderr, errArity("set")) {
			t.Errorf("want %q in the output, got\n%v", errArity("set"), o)
		}
	})
}

// TestRedisCLIAuth runs redis-cli against a server with a password.
func TestRedisCLIAuth(t *testing.T) {
	t.Parallel()
	harness.Need(t, "redis-cli")
	const password = "compat-secret"
	srv := startTarget(t, password)
	tcp := tcpArgs(t, srv)
	unix := []string{"-s", srv.Unix}
	auth := func(conn []string, flags ...string) []string {
		return append(append(slices.Clone(conn), flags...), "--no-auth-warning")
	}

	accepted := []struct {
		name   string
		conn   []string
		args   []string
		stdout string
	}{
		{"password", auth(tcp, "-a", password), []string{"PING"}, "PONG\n"},
		{"user-pass", auth(tcp, "--user", "default", "--pass", password), []string{"PING"}, "PONG\n"},
		{"unix", auth(unix, "-a", password), []string{"PING"}, "PONG\n"},
		{"resp3", auth(tcp, "-3", "-a", password), []string{"SET", "sess:a", "1"}, "OK\n"},
		{"resp3-get", auth(unix, "-3", "-a", password), []string{"GET", "sess:a"}, "1\n"},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			wantOutput(t, cli(t, c.conn, c.args...), c.stdout)
		})
	}

	// Refusals: redis-cli still runs the command and prints the reply;
	// a failed AUTH is reported on stderr first.
	const (
		noAuth    = "NOAUTH Authentication required."
		authError = "AUTH failed: WRONGPASS invalid username-password pair or user is disabled."
	)
	refused := []struct {
		name   string
		conn   []string
		stderr string
	}{
		{"no-password", tcp, ""},
		{"wrong-password", auth(tcp, "-a", "wrong"), authError},
		{"wrong-password-resp3", auth(unix, "-3", "-a", "wrong"), authError},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			o := cli(t, c.conn, "GET", "sess:a")
			if !strings.Contains(o.stdout+o.stderr, noAuth) {
				t.Errorf("want %q in the output, got\n%v", noAuth, o)
			}
			if !strings.Contains(o.stderr, c.stderr) {
				t.Errorf("want %q on stderr, got\n%v", c.stderr, o)
			}
			if strings.Contains(o.stdout, "\n1\n") || o.stdout == "1\n" {
				t.Errorf("the value was served without AUTH:\n%v", o)
			}
		})
	}
}
