package server_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// clientID returns c's CLIENT ID.
func clientID(t *testing.T, c *client) string {
	t.Helper()
	id, isInt := c.do("CLIENT", "ID").V.(int64)
	if !isInt {
		t.Fatal("CLIENT ID: not an integer")
	}
	return strconv.FormatInt(id, 10)
}

// listLine returns the CLIENT LIST line of the connection with id, or "".
func listLine(t *testing.T, c *client, id string) string {
	t.Helper()
	text := verbatimText(c.do("CLIENT", "LIST", "ID", id))
	return strings.TrimSuffix(text, "\n")
}

func verbatimText(r reply) string {
	switch v := r.V.(type) {
	case string:
		return v
	case Verbatim:
		return v.Text
	}
	return ""
}

// field returns a field of a CLIENT LIST line.
func field(line, name string) string {
	m := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(name) + `=(\S*)`).FindStringSubmatch(line)
	if m == nil {
		return "<none>"
	}
	return m[1]
}

// TestClientKill runs each form of CLIENT KILL against connections served
// by goroutines and by an event loop: the reply is Redis's, and a killed
// connection is closed at once (well before any timeout).
func TestClientKill(t *testing.T) {
	t.Parallel()
	for _, loops := range []int{0, 1} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, server.Config{EventLoops: loops}, nil)
			admin := ts.dial(t)
			type victim struct {
				c  *client
				id string
			}
			dial := func(unix bool) victim {
				c := ts.dial(t)
				if unix {
					c = ts.dialUnix(t)
				}
				c.timeout = 2 * time.Second // a kill closes at once; a timeout fails the test
				return victim{c, clientID(t, c)}
			}
			cases := []struct {
				name  string
				unix  bool
				args  func(v victim) []string
				reply string
			}{
				{"old form by address", false, func(v victim) []string {
					return []string{"CLIENT", "KILL", field(listLine(t, admin, v.id), "addr")}
				}, ok},
				{"old form by Unix address", true, func(v victim) []string {
					return []string{"CLIENT", "KILL", ts.unix + ":0"}
				}, ok},
				{"id", false, func(v victim) []string { return []string{"CLIENT", "KILL", "ID", v.id} }, num(1)},
				{"addr", false, func(v victim) []string {
					return []string{"client", "kill", "addr", field(listLine(t, admin, v.id), "addr")}
				}, num(1)},
				{"id and laddr", false, func(v victim) []string {
					return []string{"CLIENT", "KILL", "LADDR", ts.tcp, "ID", v.id}
				}, num(1)},
				{"id and user", false, func(v victim) []string { return []string{"CLIENT", "KILL", "USER", "default", "ID", v.id} }, num(1)},
				{"id, type and skipme", false, func(v victim) []string {
					return []string{"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes", "ID", v.id}
				}, num(1)},
			}
			for _, tc := range cases {
				v := dial(tc.unix)
				admin.expect(tc.reply, tc.args(v)...)
				v.c.expectClosed()
				if line := listLine(t, admin, v.id); line != "" {
					t.Errorf("%s: CLIENT LIST ID %s after the kill: %q, want none", tc.name, v.id, line)
				}
			}
		})
	}
}

// TestClientKillMisses: the kills that match nothing, and the wrong forms,
// get Redis's replies and close nothing.
func TestClientKillMisses(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	bystander := ts.dial(t)
	me := clientID(t, c)
	runSteps(t, c, []step{
		s("-ERR No such client\r\n", "CLIENT", "KILL", "10.0.0.1:1"),
		s(num(0), "CLIENT", "KILL", "ID", "999999"),
		s(num(0), "CLIENT", "KILL", "ID", me), // SKIPME yes by default
		s(num(0), "CLIENT", "KILL", "ADDR", ""),
		s(num(0), "CLIENT", "KILL", "TYPE", "pubsub"),
		s(num(0), "CLIENT", "KILL", "TYPE", "master"),
		s(num(0), "CLIENT", "KILL", "TYPE", "replica"),
		s(num(0), "CLIENT", "KILL", "MAXAGE", "100000"),
		s("-ERR client-id should be greater than 0\r\n", "CLIENT", "KILL", "ID", "0"),
		s("-ERR client-id should be greater than 0\r\n", "CLIENT", "KILL", "ID", "x"),
		s("-ERR maxage should be greater than 0\r\n", "CLIENT", "KILL", "MAXAGE", "0"),
		s("-ERR maxage is not an integer or out of range\r\n", "CLIENT", "KILL", "MAXAGE", "x"),
		s("-ERR Unknown client type 'foo'\r\n", "CLIENT", "KILL", "TYPE", "foo"),
		s("-ERR No such user 'nobody'\r\n", "CLIENT", "KILL", "USER", "nobody"),
		s(syntaxErr, "CLIENT", "KILL", "SKIPME", "maybe"),
		s(syntaxErr, "CLIENT", "KILL", "ID", "1", "SKIPME"),
		s(syntaxErr, "CLIENT", "KILL", "FOO", "1"),
		s("-ERR wrong number of arguments for 'client|kill' command\r\n", "CLIENT", "KILL"),
	})
	checkServes(t, bystander)
	checkServes(t, c)
}

// TestClientKillSelf: SKIPME no and the old form kill the caller after
// its reply, as Redis does.
func TestClientKillSelf(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	c.expect(num(1), "CLIENT", "KILL", "ID", clientID(t, c), "SKIPME", "no")
	c.expectClosed()
	c = ts.dial(t)
	addr := field(listLine(t, c, clientID(t, c)), "addr")
	c.expect(ok, "CLIENT", "KILL", addr)
	c.expectClosed()
}

// TestClientKillMaxAge: MAXAGE kills the connections at least that old.
func TestClientKillMaxAge(t *testing.T) {
	t.Parallel()
	ts := start(t)
	old := ts.dial(t)
	old.expect("+PONG\r\n", "PING")
	time.Sleep(1100 * time.Millisecond)
	c := ts.dial(t)
	c.expect(num(1), "CLIENT", "KILL", "MAXAGE", "1")
	old.expectClosed()
	checkServes(t, c)
}

// TestClientListFields: the fields an operator filters on are truthful:
// cmd is the last command, user the default user, and a memcached
// connection says so (proto=memcache, resp=0, no user).
func TestClientListFields(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.dial(t)
	me := clientID(t, c)
	mc := ts.mc(t)
	mc.do("get k\r\n", "END\r\n")
	line := listLine(t, c, me)
	for name, want := range map[string]string{"cmd": "client", "user": "default", "flags": "N", "resp": "2", "proto": "<none>"} {
		if got := field(line, name); got != want {
			t.Errorf("own line %q: %s=%s, want %s", line, name, got, want)
		}
	}
	all := verbatimText(c.do("CLIENT", "LIST"))
	var mcLine string
	for _, l := range strings.Split(all, "\n") {
		if strings.Contains(l, "laddr="+ts.mcTCP+" ") {
			mcLine = l
		}
	}
	for name, want := range map[string]string{"cmd": "get", "user": "", "resp": "0", "proto": "memcache", "lib-name": ""} {
		if got := field(mcLine, name); got != want {
			t.Errorf("memcached line %q: %s=%s, want %s", mcLine, name, got, want)
		}
	}
	// USER default is RESP's user: a memcached connection is no user's.
	c.expect(num(0), "CLIENT", "KILL", "USER", "default")
	mc.do("get k\r\n", "END\r\n")
	c.expect(num(1), "CLIENT", "KILL", "TYPE", "normal", "LADDR", ts.mcTCP)
	mc.expectClosed()
}
