package server_test

import (
	"strings"
	"testing"

	"github.com/sessiond/sessiond/server"
)

const (
	noAuth    = "-NOAUTH Authentication required.\r\n"
	wrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	// Redis 7.0.15's words, as redis-server answers them.
	helloNoAuth = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
	noPassword  = "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
)

func startAuth(t *testing.T) *testServer {
	t.Helper()
	return startServer(t, server.Config{RequirePass: "s3cret"}, nil)
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	ts := startAuth(t)

	t.Run("refused before AUTH", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect(noAuth, "GET", "k")
		c.expect(noAuth, "SET", "k", "v")
		c.expect(noAuth, "PING")
		c.expect(noAuth, "SELECT", "0")
		c.expect(noAuth, "MULTI")
		c.expect(noAuth, "CLIENT", "SETINFO", "lib-name", "x")
		c.expect(noAuth, "INFO")
		c.expect(helloNoAuth, "HELLO", "3")
		c.expect(helloNoAuth, "HELLO")
		c.expect(noAuth, "GET", "k") // still refused: nothing above authenticated
		c.expect("+OK\r\n", "QUIT")
		c.expectClosed()
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect(wrongPass, "AUTH", "wrong")
		c.expect(wrongPass, "AUTH", "default", "wrong")
		c.expect(wrongPass, "AUTH", "bob", "s3cret")
		c.expect(wrongPass, "AUTH", "s3cre")
		c.expect(wrongPass, "AUTH", "s3crett")
		c.expect(wrongPass, "HELLO", "3", "AUTH", "default", "wrong")
		c.expect("-ERR syntax error\r\n", "AUTH", "a", "b", "c")
		c.expect(noAuth, "GET", "k")
	})

	t.Run("AUTH pass", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect("+OK\r\n", "AUTH", "s3cret")
		c.expect("+OK\r\n", "SET", "auth:1", "v")
		c.expect("$1\r\nv\r\n", "GET", "auth:1")
	})

	t.Run("AUTH default pass", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect("+OK\r\n", "AUTH", "default", "s3cret")
		c.expect("+PONG\r\n", "PING")
	})

	t.Run("HELLO 3 AUTH default pass", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		r := c.do("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "app")
		m, ok := r.V.(Map)
		if !ok || m["proto"] != int64(3) {
			t.Fatalf("HELLO 3 AUTH: got %q, want the RESP3 map", r.Raw)
		}
		c.expect("_\r\n", "GET", "nosuch")
		c.expect("$3\r\napp\r\n", "CLIENT", "GETNAME")
	})

	t.Run("RESET forgets authentication", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect("+OK\r\n", "AUTH", "s3cret")
		c.expect("+RESET\r\n", "RESET")
		c.expect(noAuth, "GET", "k")
	})

	t.Run("inline AUTH", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.writeString("GET k\r\nAUTH s3cret\r\nGET k\r\n")
		c.expectRead(noAuth, "inline GET before AUTH")
		c.expectRead("+OK\r\n", "inline AUTH")
		c.expectRead("$-1\r\n", "inline GET after AUTH")
	})

	t.Run("unauthenticated multibulk length", func(t *testing.T) {
		t.Parallel()
		other := ts.dial(t)
		other.expect("+OK\r\n", "AUTH", "s3cret")
		c := ts.dial(t)
		c.writeString("*1000\r\n")
		c.expectRead("-ERR Protocol error: unauthenticated multibulk length\r\n", "*1000 before AUTH")
		c.expectClosed()
		checkServes(t, other)
	})

	t.Run("unauthenticated bulk length", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.writeString("*2\r\n$3\r\nGET\r\n$100000\r\n")
		c.expectRead("-ERR Protocol error: unauthenticated bulk length\r\n", "$100000 before AUTH")
		c.expectClosed()
	})

	t.Run("large commands after AUTH", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect("+OK\r\n", "AUTH", "s3cret")
		args := []string{"DEL"}
		for range 1000 {
			args = append(args, "nokey")
		}
		c.expect(":0\r\n", args...)
		big := strings.Repeat("x", 100000)
		c.expect("+OK\r\n", "SET", "auth:big", big)
		c.expect("$100000\r\n"+big+"\r\n", "GET", "auth:big")
	})
}

func TestAuthWithoutPassword(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	c.expect(noPassword, "AUTH", "x")
	c.expect("+PONG\r\n", "PING")
}

// Without a password configured, Redis's default user is "nopass": AUTH
// with a user name (the ACL form) and HELLO ... AUTH default <any> succeed,
// and only the one-argument AUTH gets the "without any password
// configured" error. go-redis and node-redis send HELLO 3 AUTH default
// <pass> whenever the application configures a password.
func TestAuthDefaultUserWithoutPasswordConfigured(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	c.expect("+OK\r\n", "AUTH", "default", "anything")
	c.expect(wrongPass, "AUTH", "bob", "anything")
	r := c.do("HELLO", "3", "AUTH", "default", "anything")
	if m, ok := r.V.(Map); !ok || m["proto"] != int64(3) {
		t.Errorf("HELLO 3 AUTH default anything without requirepass: got %q, want the HELLO map (Redis accepts any password for the nopass default user)", r.Raw)
	}
	c.expect(wrongPass, "HELLO", "3", "AUTH", "bob", "anything")
}
