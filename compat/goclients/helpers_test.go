package goclients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessiond/sessiond/compat/harness"
)

// variant is one way a go-redis client reaches the server.
type variant struct {
	name string
	// protocol is what go-redis asks for with HELLO: 2 or 3.
	protocol int
	// unix dials the server's Unix socket instead of TCP.
	unix bool
	// password makes the server require AUTH and the client send it.
	password string
}

// startTarget starts the server under test with a Unix socket, so that
// every test can use both transports.
func startTarget(t *testing.T, password string) *harness.Server {
	t.Helper()
	return harness.StartTarget(t, harness.Target{Unix: true, Password: password})
}

// clientOptions are go-redis options for v against s. Every network wait
// is bounded by the command's context, and retries are off because a retry
// would hide a server that drops connections.
func clientOptions(s *harness.Server, v variant) *redis.Options {
	opt := &redis.Options{
		Network:               "tcp",
		Addr:                  s.Addr,
		Protocol:              v.protocol,
		Password:              v.password,
		DialTimeout:           5 * time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		PoolSize:              4,
	}
	if v.unix {
		opt.Network, opt.Addr = "unix", s.Unix
	}
	return opt
}

// newClient returns a go-redis client that is closed when the test ends.
func newClient(t *testing.T, opt *redis.Options) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testContext bounds one check: nothing in it should take long, and a
// server that stops answering must fail the test rather than hang it.
func testContext(t *testing.T) context.Context {
	return harness.Context(t, 20*time.Second)
}

// show renders a command the way a reader of a failure wants to see it.
func show(cmd redis.Cmder) string {
	s := join(cmd.Args())
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// join renders command arguments separated by spaces.
func join(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = fmt.Sprint(a)
	}
	return strings.Join(parts, " ")
}

// valuer is a go-redis command with a typed result.
type valuer[T any] interface {
	redis.Cmder
	Val() T
}

// ok fails the test now if cmd failed, and returns cmd for its value.
func ok[C redis.Cmder](t *testing.T, cmd C) C {
	t.Helper()
	if err := cmd.Err(); err != nil {
		t.Fatalf("%s: %v", show(cmd), err)
	}
	return cmd
}

// want checks that cmd succeeded with the value v.
func want[T comparable](t *testing.T, cmd valuer[T], v T) {
	t.Helper()
	if err := cmd.Err(); err != nil {
		t.Errorf("%s: %v, want %v", show(cmd), err, v)
		return
	}
	if got := cmd.Val(); got != v {
		t.Errorf("%s = %#v, want %#v", show(cmd), got, v)
	}
}

// wantNil checks that cmd got a nil reply, which go-redis reports as
// redis.Nil: a missing key is not an empty string.
func wantNil(t *testing.T, cmd redis.Cmder) {
	t.Helper()
	if err := cmd.Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("%s: err = %v, want a nil reply (redis.Nil)", show(cmd), err)
	}
}

// wantErr checks that cmd got exactly the error reply text, as Redis
// writes it after the "-".
func wantErr(t *testing.T, cmd redis.Cmder, text string) {
	t.Helper()
	wantRedisErr(t, show(cmd), cmd.Err(), text)
}

// wantRedisErr checks that err is, or wraps, a server error reply with
// exactly the text.
func wantRedisErr(t *testing.T, what string, err error, text string) {
	t.Helper()
	var rerr redis.Error
	switch {
	case err == nil:
		t.Errorf("%s: no error, want %q", what, text)
	case !errors.As(err, &rerr):
		t.Errorf("%s: %v is not an error reply, want %q", what, err, text)
	case rerr.Error() != text:
		t.Errorf("%s: error reply\n  %q\nwant\n  %q", what, rerr.Error(), text)
	}
}

// wantTTL checks that a TTL or PTTL reply is within (lo, hi]. Redis counts
// down from the moment it applied the expiry, so a TTL read back is never
// more than what was set and only a little less.
func wantTTL(t *testing.T, cmd *redis.DurationCmd, lo, hi time.Duration) {
	t.Helper()
	if err := cmd.Err(); err != nil {
		t.Errorf("%s: %v", show(cmd), err)
		return
	}
	if d := cmd.Val(); d <= lo || d > hi {
		t.Errorf("%s = %v, want in (%v, %v]", show(cmd), d, lo, hi)
	}
}

// waitUntil sleeps until the wall clock passes at, plus a margin for the
// server's clock resolution: expiry in Redis is exact to the millisecond.
func waitUntil(at time.Time) {
	time.Sleep(time.Until(at) + 30*time.Millisecond)
}

// hostPort splits a harness address for programs that take -h and -p.
func hostPort(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("server address %q: %v", addr, err)
	}
	return host, port
}

// output is what a program run wrote and how it ended.
type output struct {
	stdout, stderr string
	err            error
}

func (o output) String() string {
	return fmt.Sprintf("err: %v\nstdout:\n%s\nstderr:\n%s", o.err, o.stdout, o.stderr)
}

// runProgram runs an installed program with a bounded time, so that a
// server that never answers fails the test instead of hanging it.
func runProgram(t *testing.T, program string, args ...string) output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Need(t, program), args...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out: %w", program, strings.Join(args, " "), err)
	}
	return output{stdout: stdout.String(), stderr: stderr.String(), err: err}
}
