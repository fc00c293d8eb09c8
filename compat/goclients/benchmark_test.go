package goclients

import (
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/compat/harness"
)

// TestRedisBenchmark runs a short redis-benchmark of SET, GET and MSET,
// with and without pipelining, over TCP and the Unix socket. It is a load
// test of the protocol path, not a measurement: it must finish cleanly.
func TestRedisBenchmark(t *testing.T) {
	t.Parallel()
	harness.Need(t, "redis-benchmark")
	const password = "compat-secret"
	cases := []struct {
		name     string
		unix     bool
		password string
		args     []string
	}{
		{"tcp", false, "", nil},
		{"tcp-pipeline-16", false, "", []string{"-P", "16"}},
		{"unix", true, "", nil},
		{"unix-pipeline-16", true, "", []string{"-P", "16"}},
		{"tcp-password", false, password, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startTarget(t, c.password)
			args := tcpArgs(t, srv)
			if c.unix {
				args = []string{"-s", srv.Unix}
			}
			if c.password != "" {
				args = append(args, "-a", c.password)
			}
			args = append(args, "-t", "set,get,mset", "-n", "2000", "-c", "10", "-q")
			o := runProgram(t, "redis-benchmark", append(args, c.args...)...)
			if o.err != nil {
				t.Fatalf("redis-benchmark %s:\n%v", strings.Join(args, " "), o)
			}
			// redis-benchmark reports a failed command or connection with
			// "ERR" or "Error" and goes on, and warns when CONFIG GET
			// save/appendonly fails; none of that may show.
			for _, bad := range []string{"ERR", "Error", "error", "Could not", "WARN"} {
				if strings.Contains(o.stdout+o.stderr, bad) {
					t.Errorf("%q in the output:\n%v", bad, o)
				}
			}
			for _, test := range []string{"SET: ", "GET: ", "MSET (10 keys): "} {
				if !slices.ContainsFunc(strings.Split(o.stdout, "\r"), func(l string) bool {
					return strings.HasPrefix(strings.TrimSpace(l), strings.TrimSpace(test)) &&
						strings.Contains(l, "requests per second")
				}) {
					t.Errorf("no %q result line in the output:\n%v", test, o)
				}
			}

			// It wrote what it says: without -r, SET and MSET write the one
			// key key:__rand_int__, with a value of -d 3 random bytes.
			v := variant{protocol: 3, unix: c.unix, password: c.password}
			rdb := newClient(t, clientOptions(srv, v))
			ctx := testContext(t)
			want(t, rdb.DBSize(ctx), int64(1))
			if got := ok(t, rdb.Get(ctx, "key:__rand_int__")).Val(); len(got) != 3 {
				t.Errorf("GET key:__rand_int__ = %q, want 3 bytes", got)
			}
		})
	}
}
