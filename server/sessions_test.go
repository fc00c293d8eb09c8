package server_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/jsonpath"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// passportUser is the store's Options.UserID for sessiond's default
// --user-field, passport.user.
func passportUser(t testing.TB) func([]byte) ([]byte, bool) {
	t.Helper()
	paths, err := jsonpath.Parse("passport.user")
	if err != nil {
		t.Fatal(err)
	}
	return func(v []byte) ([]byte, bool) { return jsonpath.Lookup(v, paths) }
}

// startIndexed serves a store whose user index reads passport.user, on
// clock.
func startIndexed(t testing.TB, clock *testkit.FakeClock) *testServer {
	t.Helper()
	return startServer(t, server.Config{}, &sessiond.Options{Now: clock.Now, UserID: passportUser(t)})
}

// eachProto runs test in parallel in RESP2 and RESP3, each on a connection
// to its own indexed server on its own clock.
func eachProto(t *testing.T, test func(t *testing.T, proto int, c *client, clock *testkit.FakeClock)) {
	t.Parallel()
	for _, proto := range []int{2, 3} {
		t.Run("RESP"+strconv.Itoa(proto), func(t *testing.T) {
			t.Parallel()
			clock := new(testkit.FakeClock)
			c := startIndexed(t, clock).dial(t)
			if r := c.do("HELLO", strconv.Itoa(proto)); r.V == nil {
				t.Fatalf("HELLO %d: %q", proto, r.Raw)
			}
			test(t, proto, c, clock)
		})
	}
}

// listEntry is SESSION.LIST's element for a session: a map of key, ttl, written
// and size, in that order; a flat array of 8 in RESP2.
func listEntry(proto int, key string, ttl, written int64, value string) string {
	h := "*8\r\n"
	if proto == 3 {
		h = "%4\r\n"
	}
	return h + bulk("key") + bulk(key) + bulk("ttl") + num64(ttl) + bulk("written") + num64(written) +
		bulk("size") + num(len(value))
}

func num64(n int64) string { return ":" + strconv.FormatInt(n, 10) + "\r\n" }

func alice(n int) string {
	return `{"cookie":{"path":"/"},"passport":{"user":"alice"},"n":` + strconv.Itoa(n) + `}`
}

const bob = `{"passport":{"user":"bob"}}`

// TestSessionList: SESSION.LIST answers a user's sessions, the most
// recently written first, each with its key, its ttl in milliseconds (-1
// for none, as PTTL), its last write in unix milliseconds and its size,
// as a map in RESP3 and a flat array in RESP2; SESSION.COUNT counts them.
// Sessions of other users, values that are not JSON and JSON without the
// field are not listed; a user with none gets an empty array and 0.
func TestSessionList(t *testing.T) {
	eachProto(t, func(t *testing.T, proto int, c *client, clock *testkit.FakeClock) {
		t0 := clock.Now().UnixMilli()
		c.expect(ok, "SET", "sess:a", alice(1), "EX", "100")
		clock.Advance(time.Second)
		c.expect(ok, "SET", "sess:b", alice(22))
		clock.Advance(time.Second)
		c.expect(ok, "SET", "sess:c", alice(333), "PX", "5000")
		c.expect(ok, "SET", "sess:bob", bob, "EX", "10")
		c.expect(ok, "SET", "plain", "not json")
		c.expect(ok, "SET", "sess:anon", `{"cookie":{"path":"/"}}`)
		clock.Advance(500 * time.Millisecond)

		c.expect("*3\r\n"+
			listEntry(proto, "sess:c", 4500, t0+2000, alice(333))+
			listEntry(proto, "sess:b", -1, t0+1000, alice(22))+
			listEntry(proto, "sess:a", 97500, t0, alice(1)),
			"SESSION.LIST", "alice")
		c.expect(num(3), "SESSION.COUNT", "alice")
		c.expect("*1\r\n"+listEntry(proto, "sess:bob", 9500, t0+2000, bob), "session.list", "bob")
		c.expect(num(1), "session.count", "bob")
		c.expect("*0\r\n", "SESSION.LIST", "nobody")
		c.expect(num(0), "SESSION.COUNT", "nobody")
		c.expect("*0\r\n", "SESSION.LIST", "")

		// A write moves a session to the front; a merge is a write
		// and keeps the session's expiry.
		clock.Advance(time.Second)
		merged := `{"cookie":{"path":"/"},"passport":{"user":"alice"},"n":1,"cart":1}`
		c.expect(bulk(merged), "SESSION.MERGE", "sess:a", `{"cart":1}`)
		c.expect("*3\r\n"+
			listEntry(proto, "sess:a", 96500, t0+3500, merged)+
			listEntry(proto, "sess:c", 3500, t0+2000, alice(333))+
			listEntry(proto, "sess:b", -1, t0+1000, alice(22)),
			"SESSION.LIST", "alice")
		// A login as someone else moves the session; a logout (no
		// user) takes it out; an expired one is gone.
		c.expect(ok, "SET", "sess:b", bob, "KEEPTTL")
		c.expect(ok, "SET", "sess:a", `{"cookie":{"path":"/"}}`, "KEEPTTL")
		clock.Advance(4 * time.Second)
		c.expect("*0\r\n", "SESSION.LIST", "alice")
		c.expect(num(0), "SESSION.COUNT", "alice")
		c.expect(num(2), "SESSION.COUNT", "bob")
	})
}

// TestSessionRevoke: SESSION.REVOKE deletes every session of the user but
// the keys after EXCEPT, and answers how many went; other users' sessions
// and sessions of no user stay.
func TestSessionRevoke(t *testing.T) {
	eachProto(t, func(t *testing.T, proto int, c *client, _ *testkit.FakeClock) {
		for i, k := range []string{"sess:a", "sess:b", "sess:c"} {
			c.expect(ok, "SET", k, alice(i), "EX", "100")
		}
		c.expect(ok, "SET", "sess:bob", bob)
		c.expect(ok, "SET", "plain", "not json")

		c.expect(num(2), "SESSION.REVOKE", "alice", "EXCEPT", "sess:c")
		c.expect(nullIn(proto), "GET", "sess:a")
		c.expect(nullIn(proto), "GET", "sess:b")
		c.expect(bulk(alice(2)), "GET", "sess:c")
		c.expect(num(1), "SESSION.COUNT", "alice")

		// Several keys after EXCEPT; one of them another user's, one
		// missing: neither changes anything.
		for _, k := range []string{"k1", "k2", "k3", "k4"} {
			c.expect(ok, "SET", k, `{"passport":{"user":"carol"}}`)
		}
		c.expect(num(2), "session.revoke", "carol", "except", "k1", "k3", "nosuch", "sess:bob")
		c.expect(num(2), "EXISTS", "k1", "k2", "k3", "k4")
		c.expect(num(1), "EXISTS", "k1")
		c.expect(num(1), "EXISTS", "k3")
		c.expect(num(2), "SESSION.COUNT", "carol")

		c.expect(num(1), "SESSION.REVOKE", "alice")
		c.expect(num(0), "SESSION.REVOKE", "alice")
		c.expect(num(0), "SESSION.REVOKE", "nobody", "EXCEPT", "sess:bob")
		c.expect("*0\r\n", "SESSION.LIST", "alice")
		c.expect(num(1), "SESSION.COUNT", "bob")
		c.expect(bulk("not json"), "GET", "plain")
		c.expect(num(4), "DBSIZE") // sess:bob, plain, k1, k3
	})
}

// nullIn is the null reply of protocol proto.
func nullIn(proto int) string {
	if proto == 3 {
		return "_\r\n"
	}
	return "$-1\r\n"
}

// TestSessionCommandErrors: a wrong number of arguments and a bad EXCEPT
// get Redis's errors and change nothing; with the index off, every
// SESSION.* command that reads it says so.
func TestSessionCommandErrors(t *testing.T) {
	t.Parallel()
	c := startIndexed(t, new(testkit.FakeClock)).dial(t)
	c.expect(ok, "SET", "sess:bob", bob)
	for _, args := range [][]string{
		{"SESSION.LIST"}, {"SESSION.LIST", "bob", "x"},
		{"SESSION.COUNT"}, {"SESSION.COUNT", "bob", "x"},
		{"SESSION.REVOKE"},
	} {
		c.expect(arity(strings.ToLower(args[0])), args...)
	}
	for _, args := range [][]string{
		{"SESSION.REVOKE", "bob", "EXCEPT"},
		{"SESSION.REVOKE", "bob", "sess:bob"},
		{"SESSION.REVOKE", "bob", "EXCEPTS", "sess:bob"},
		{"SESSION.REVOKE", "bob", "sess:bob", "EXCEPT", "sess:bob"},
	} {
		c.expect(syntaxErr, args...)
	}
	c.expect(num(1), "SESSION.COUNT", "bob")

	const off = "-ERR the user index is off (start sessiond with --user-field)\r\n"
	c = start(t).dial(t)
	c.expect(ok, "SET", "sess:bob", bob)
	c.expect(off, "SESSION.LIST", "bob")
	c.expect(off, "SESSION.COUNT", "bob")
	c.expect(off, "SESSION.REVOKE", "bob")
	c.expect(off, "SESSION.REVOKE", "bob", "EXCEPT", "sess:x")
	c.expect(syntaxErr, "SESSION.REVOKE", "bob", "EXCEPT") // the syntax first, as Redis checks it
	c.expect(num(1), "EXISTS", "sess:bob")
}

// TestSessionCommandsInMulti: inside MULTI the SESSION.* commands queue
// and run at EXEC in order, each reply in EXEC's array; a syntax error is
// that command's reply, a wrong arity aborts the transaction, as in Redis.
func TestSessionCommandsInMulti(t *testing.T) {
	eachProto(t, func(t *testing.T, proto int, c *client, clock *testkit.FakeClock) {
		const dave = `{"passport":{"user":"dave"}}`
		c.expect(ok, "SET", "sess:d1", dave, "EX", "60")
		c.expect(ok, "SET", "sess:d2", dave, "EX", "60")
		c.expect(ok, "MULTI")
		for _, args := range [][]string{
			{"SESSION.COUNT", "dave"},
			{"SESSION.REVOKE", "dave", "EXCEPT", "sess:d2"},
			{"SESSION.LIST", "dave"},
			{"SESSION.REVOKE", "dave", "EXCEPT"},
			{"SESSION.REVOKE", "dave"},
			{"SESSION.COUNT", "dave"},
		} {
			c.expect("+QUEUED\r\n", args...)
		}
		c.expect("*6\r\n"+num(2)+num(1)+
			"*1\r\n"+listEntry(proto, "sess:d2", 60000, clock.Now().UnixMilli(), dave)+
			syntaxErr+num(1)+num(0), "EXEC")

		c.expect(ok, "MULTI")
		c.expect(arity("session.list"), "SESSION.LIST")
		c.expect("+QUEUED\r\n", "SET", "sess:d3", dave)
		c.expect("-EXECABORT Transaction discarded because of previous errors.\r\n", "EXEC")
		c.expect(num(0), "SESSION.COUNT", "dave")
	})
}

// TestSessionCommandsCounted: the SESSION.* commands have their lines in
// INFO commandstats, with their calls, refusals (a wrong arity) and
// failures (a syntax error, the index off), as every command has.
func TestSessionCommandsCounted(t *testing.T) {
	t.Parallel()
	c := startIndexed(t, new(testkit.FakeClock)).dial(t)
	for _, args := range [][]string{
		{"SESSION.COUNT", "u"}, {"SESSION.LIST", "u"}, {"SESSION.LIST"},
		{"SESSION.REVOKE", "u", "EXCEPT"}, {"SESSION.REVOKE", "u"},
	} {
		c.do(args...)
	}
	off := start(t).dial(t)
	off.do("SESSION.LIST", "u")
	for _, cs := range []struct {
		c    *client
		want map[string]string
	}{
		{c, map[string]string{
			"cmdstat_session.count":  "calls=1,rejected_calls=0,failed_calls=0",
			"cmdstat_session.list":   "calls=1,rejected_calls=1,failed_calls=0",
			"cmdstat_session.revoke": "calls=2,rejected_calls=0,failed_calls=1",
		}},
		{off, map[string]string{"cmdstat_session.list": "calls=1,rejected_calls=0,failed_calls=1"}},
	} {
		got := sectionFields(t, cs.c, "commandstats")
		for name, want := range cs.want {
			if withoutTime(got[name]) != want {
				t.Errorf("%s: got %q, want %q", name, got[name], want)
			}
		}
	}
}

// TestSessionCommandInfo: COMMAND INFO, COMMAND LIST and COMMAND COUNT
// list the SESSION.* commands as they list SESSION.MERGE: their arity,
// read-only or write (SESSION.REVOKE deletes, as DEL does), and no key
// positions (a user id is not a key).
func TestSessionCommandInfo(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	info := func(name string, arity int, flag string) string {
		return "*10\r\n" + bulk(name) + num(arity) + "*1\r\n+" + flag + "\r\n" + num(0) + num(0) + num(0) +
			"*0\r\n*0\r\n*0\r\n*0\r\n"
	}
	c.expect("*3\r\n"+info("session.list", 2, "readonly")+info("session.count", 2, "readonly")+
		info("session.revoke", -2, "write"),
		"COMMAND", "INFO", "SESSION.LIST", "session.count", "Session.Revoke")
	list := anyList(c.do("COMMAND", "LIST").V)
	for _, name := range []string{"session.list", "session.count", "session.revoke", "session.merge"} {
		if !slices.Contains(list, any(name)) {
			t.Errorf("COMMAND LIST has no %s: %v", name, list)
		}
	}
	if n := c.do("COMMAND", "COUNT").V; n != int64(len(list)) {
		t.Errorf("COMMAND COUNT = %v, COMMAND LIST lists %d", n, len(list))
	}
}

// TestSessionRevokeUnderMaxmemory: at maxmemory under noeviction, writes
// are refused, and SESSION.REVOKE, like DEL, is not: the room it frees
// takes new writes again. SESSION.LIST and COUNT go on.
func TestSessionRevokeUnderMaxmemory(t *testing.T) {
	t.Parallel()
	c := startServer(t, server.Config{}, &sessiond.Options{MaxMemory: 1 << 20, UserID: passportUser(t)}).dial(t)
	v := `{"passport":{"user":"big"},"pad":"` + strings.Repeat("x", 10<<10) + `"}`
	written := 0
	for i := 0; ; i++ {
		r := c.do("SET", "sess:"+strconv.Itoa(i), v)
		if r.Raw != ok {
			if !strings.HasPrefix(r.Raw, "-OOM ") {
				t.Fatalf("SET at maxmemory: %q, want OOM", r.Raw)
			}
			break
		}
		if written++; written > 1000 {
			t.Fatal("1,000 writes of 10 KB under a 1 MB maxmemory, none refused")
		}
	}
	c.expect(num(written), "SESSION.COUNT", "big")
	if l := anyList(c.do("SESSION.LIST", "big").V); len(l) != written {
		t.Errorf("SESSION.LIST at maxmemory: %d sessions, want %d", len(l), written)
	}
	c.expect(num(written-1), "SESSION.REVOKE", "big", "EXCEPT", "sess:0")
	// The store reclaims deleted sessions' room in the background (in
	// about a ReapInterval), after a revoke as after a DEL.
	testkit.Eventually(t, 10*time.Second, "a write fits after the revoke", func() bool {
		return c.do("SET", "sess:new", v).Raw == ok
	})
	c.expect(num(2), "SESSION.COUNT", "big")
}
