package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
)

// Log out everywhere (issue 15): apps with passport log users in, unchanged,
// and sessiond, which indexes their sessions by passport.user, lists and
// revokes a user's sessions through each of its interfaces.

// loginStack is an app with passport and its session store.
type loginStack struct {
	name string
	// app is the app's file in this directory.
	app string
	// prefix is the store's key prefix: a session's key is prefix + id.
	prefix string
	// memcache says the app's store speaks the memcached protocol.
	memcache bool
	// logoutOthers says the app has POST /logout-others, which revokes
	// the user's other sessions with SESSION.REVOKE ... EXCEPT through
	// the app's own Redis client; logoutEverywhere, POST
	// /logout-everywhere, which revokes them all.
	logoutOthers, logoutEverywhere bool
}

var loginStacks = []loginStack{
	{name: "express-connect-redis", app: "express-passport-connect-redis.js", prefix: "sess:", logoutOthers: true, logoutEverywhere: true},
	{name: "koa-redis", app: "koa-passport-redis.js", prefix: "koa:sess:", logoutOthers: true},
	// The app speaks memcached; the revokes go through RESP, HTTP and
	// the CLI of the same sessiond, to the same store.
	{name: "express-connect-memcached", app: "express-passport-connect-memcached.js", prefix: "sess:", memcache: true},
}

// user is one of the users in passport-users.js.
type user struct {
	name, password string
	// id is the user's id as the index files it: the text of
	// passport.user.
	id string
	// json is passport.user as the app stores it: a string for alice, a
	// number for bob.
	json string
}

var (
	alice = user{name: "alice", password: "alice's password", id: "alice", json: `"alice"`}
	bob   = user{name: "bob", password: "bob's password", id: "42", json: `42`}
)

// TestLogOutEverywhere: alice logs in from three browsers and bob from
// one; sessiond lists alice's three through RESP, HTTP and the CLI, and a
// revoke through each of them (or through the app's own route) logs
// alice's browsers out at their next request, all of them or all but the
// current one, and leaves bob logged in.
func TestLogOutEverywhere(t *testing.T) {
	node := harness.Need(t, "node")
	needModules(t)
	if ref := harness.Reference(); ref != "" {
		t.Skipf("COMPAT_TARGET=%s: the user index is sessiond's", ref)
	}
	for _, ls := range loginStacks {
		t.Run(ls.name, func(t *testing.T) {
			t.Parallel()
			// --user-field's default is passport.user; the test names
			// what it relies on.
			args := []string{"--user-field", "passport.user", "--http-addr", "127.0.0.1:0"}
			if ls.memcache {
				args = append(args, "--memcache-addr", "127.0.0.1:0")
			}
			srv := harness.Start(t, args...)
			st := stack{name: ls.name, app: ls.app, prefix: ls.prefix, memcache: ls.memcache}
			e := &logins{ls: ls, f: &fixture{st: st, srv: srv}, app: startApp(t, node, st, srv).url(t)}
			e.resp3, e.resp2, e.http, e.cli = sessionsAPIs(t, srv)
			// bob stays logged in through every round.
			e.bob = e.login(t, bob)

			t.Run("the session holds passport.user", e.testStored)
			t.Run("listing shows exactly alice's sessions", e.testList)
			for _, api := range []sessionsAPI{e.resp3, e.http, e.cli} {
				t.Run("revoke through "+api.name(), func(t *testing.T) {
					e.testRevoke(t, func(*device) int { return api.revoke(t, alice.id) }, false)
				})
				t.Run("revoke through "+api.name()+" except the current session", func(t *testing.T) {
					e.testRevoke(t, func(current *device) int { return api.revoke(t, alice.id, current.key) }, true)
				})
			}
			if ls.logoutOthers {
				t.Run("the app's /logout-others", func(t *testing.T) {
					e.testRevoke(t, e.appRevoke(t, "/logout-others"), true)
				})
			}
			if ls.logoutEverywhere {
				t.Run("the app's /logout-everywhere", func(t *testing.T) {
					e.testRevoke(t, e.appRevoke(t, "/logout-everywhere"), false)
				})
			}
		})
	}
}

// logins is one login stack's sessiond, app and interfaces.
type logins struct {
	ls    loginStack
	f     *fixture // the server, for raw RESP (and memcached) checks
	app   string   // the app's base URL
	resp3 *respAPI
	resp2 *respAPI
	http  *httpAPI
	cli   *cliAPI
	bob   *device
}

// device is one browser: an HTTP client with its own cookie jar.
type device struct {
	client *http.Client
	// key is the store's key of the session it logged in with.
	key string
}

// answer is the apps' answer to /login, /logout, /me and /sid.
type answer struct {
	User json.RawMessage // the user's id as the app has it, or null
	ID   string          // the session id
}

// send sends a request from d (a form, if form is not nil) and returns the
// status and the body.
func (e *logins) send(t *testing.T, d *device, method, path string, form url.Values) (int, []byte) {
	t.Helper()
	body := ""
	if form != nil {
		body = form.Encode()
	}
	req, err := http.NewRequest(method, e.app+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// request is send for the routes that answer {user, id}: /login, /logout,
// /me and /sid. An answer other than that JSON is a zero answer.
func (e *logins) request(t *testing.T, d *device, method, path string, form url.Values) (int, answer) {
	t.Helper()
	status, body := e.send(t, d, method, path, form)
	var a answer
	if json.Unmarshal(body, &a) != nil {
		a = answer{}
	}
	return status, a
}

// login logs u in from a new device and returns it.
func (e *logins) login(t *testing.T, u user) *device {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &device{client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	status, a := e.request(t, d, "POST", "/login", url.Values{"username": {u.name}, "password": {u.password}})
	if status != http.StatusOK || string(a.User) != u.json || a.ID == "" {
		t.Fatalf("POST /login as %s: %d %+v, want 200 with user %s and a session id", u.name, status, a, u.json)
	}
	d.key = e.ls.prefix + a.ID
	e.wantLoggedIn(t, d, u)
	return d
}

// logout logs d out, whoever it was.
func (e *logins) logout(t *testing.T, d *device) {
	t.Helper()
	if status, a := e.request(t, d, "POST", "/logout", url.Values{}); status != http.StatusOK || string(a.User) != "null" {
		t.Errorf("POST /logout: %d %+v, want 200 with user null", status, a)
	}
}

// wantLoggedIn checks that the app answers d's next request as u's.
func (e *logins) wantLoggedIn(t *testing.T, d *device, u user) {
	t.Helper()
	status, a := e.request(t, d, "GET", "/me", nil)
	if status != http.StatusOK || string(a.User) != u.json || e.ls.prefix+a.ID != d.key {
		t.Errorf("GET /me from %s's device with session %s: %d %+v, want 200 with user %s", u.name, d.key, status, a, u.json)
	}
}

// wantLoggedOut checks that the app answers d's next request as no one's.
func (e *logins) wantLoggedOut(t *testing.T, d *device) {
	t.Helper()
	if status, a := e.request(t, d, "GET", "/me", nil); status != http.StatusUnauthorized || string(a.User) != "null" {
		t.Errorf("GET /me from a device whose session %s was revoked: %d %+v, want 401 with user null", d.key, status, a)
	}
}

// loginAlice logs alice in from three new devices, a few milliseconds
// apart so that their sessions' last writes differ, and logs them out
// when the test ends, so that every round starts with none.
func (e *logins) loginAlice(t *testing.T) []*device {
	t.Helper()
	var devs []*device
	for i := range 3 {
		if i > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		devs = append(devs, e.login(t, alice))
	}
	t.Cleanup(func() {
		for _, d := range devs {
			e.logout(t, d)
		}
	})
	return devs
}

// stored returns the session at key as the store has it, read over RESP
// (for memcached too: one store), decoded.
func (e *logins) stored(t *testing.T, key string) (raw string, sess map[string]json.RawMessage) {
	t.Helper()
	raw, ok := e.f.do(t, "GET", key).(string)
	if !ok {
		t.Fatalf("GET %s over RESP: no session", key)
	}
	if err := json.Unmarshal([]byte(raw), &sess); err != nil {
		t.Fatalf("GET %s = %s: not a JSON object: %v", key, raw, err)
	}
	return raw, sess
}

// testStored: the app stores its session as a JSON object with the user's
// id at passport.user, a string or a number as serializeUser returned it:
// what --user-field passport.user reads.
func (e *logins) testStored(t *testing.T) {
	d := e.login(t, alice)
	t.Cleanup(func() { e.logout(t, d) }) // every round starts with no session of alice's
	for _, c := range []struct {
		u user
		d *device
	}{{alice, d}, {bob, e.bob}} {
		raw, sess := e.stored(t, c.d.key)
		var p struct{ User json.RawMessage }
		if err := json.Unmarshal(sess["passport"], &p); err != nil || string(p.User) != c.u.json {
			t.Errorf("%s logged in: GET %s = %s, want passport.user %s", c.u.name, c.d.key, raw, c.u.json)
		}
		if _, ok := sess["cookie"]; !ok {
			t.Errorf("GET %s = %s, want the session's cookie too", c.d.key, raw)
		}
		if e.ls.memcache {
			// The memcached listener has the session the RESP one
			// read, with the flags of the node client's JSON.
			if line := e.f.mc(t, "get "+c.d.key); line != fmt.Sprintf("VALUE %s 2 %d", c.d.key, len(raw)) {
				t.Errorf("get %s over memcached: %q, want VALUE with flags 2 (JSON) and %d bytes", c.d.key, line, len(raw))
			}
		}
	}
}

// testList: SESSION.LIST, GET /sessions and `sessiond sessions list` show
// alice's three sessions, the most recently written first, and agree on
// each; SESSION.COUNT counts them; bob has his one; and logging out takes
// a session off the list.
func (e *logins) testList(t *testing.T) {
	start := time.Now()
	devs := e.loginAlice(t)
	end := time.Now()
	want := []string{devs[2].key, devs[1].key, devs[0].key} // the most recently written first

	var lists [][]listed
	for _, api := range []sessionsAPI{e.resp3, e.resp2, e.http, e.cli} {
		got := api.list(t, alice.id)
		if keys := listedKeys(got); !slices.Equal(keys, want) {
			t.Errorf("%s lists alice's sessions %v, want %v (her three, the most recently written first)", api.name(), keys, want)
			continue
		}
		for _, s := range got {
			raw, _ := e.stored(t, s.Key)
			if s.Size != len(raw) {
				t.Errorf("%s lists %s with size %d, want %d (GET's length)", api.name(), s.Key, s.Size, len(raw))
			}
			// The apps give sessions a day (connect-redis and
			// connect-memcached for a cookie without maxAge, koa its
			// default maxAge).
			if s.TTL <= 23*time.Hour || s.TTL > 24*time.Hour {
				t.Errorf("%s lists %s with TTL %v, want a little under 24h", api.name(), s.Key, s.TTL)
			}
			// The machine's clock wrote them, to the millisecond;
			// a second either way allows for the server's hybrid
			// clock.
			if s.Written.Before(start.Add(-time.Second)) || s.Written.After(end.Add(time.Second)) {
				t.Errorf("%s lists %s written %v, want between the logins' %v and %v", api.name(), s.Key, s.Written, start, end)
			}
		}
		lists = append(lists, got)
	}
	for i := 1; i < len(lists); i++ {
		for j, s := range lists[i] {
			first := lists[0][j]
			// The CLI has the TTL to the second; and time passes
			// between the calls.
			if !s.Written.Equal(first.Written) || s.Size != first.Size || (s.TTL-first.TTL).Abs() > 5*time.Second {
				t.Errorf("the interfaces disagree on %s: %+v and %+v", s.Key, first, s)
			}
		}
	}
	if n := e.resp3.count(t, alice.id); n != 3 {
		t.Errorf("SESSION.COUNT alice = %d, want 3", n)
	}
	if n := e.resp2.count(t, bob.id); n != 1 {
		t.Errorf("SESSION.COUNT %s = %d, want 1 (bob's)", bob.id, n)
	}
	if keys := listedKeys(e.http.list(t, bob.id)); !slices.Equal(keys, []string{e.bob.key}) {
		t.Errorf("HTTP lists bob's (%s) sessions %v, want [%s]", bob.id, keys, e.bob.key)
	}
	if keys := listedKeys(e.resp3.list(t, "nobody")); len(keys) != 0 {
		t.Errorf("SESSION.LIST nobody = %v, want none", keys)
	}

	// A logout rewrites the session without passport.user (and, with
	// passport's session regeneration, deletes it): it leaves the index.
	e.logout(t, devs[0])
	if keys := listedKeys(e.cli.list(t, alice.id)); !slices.Equal(keys, want[:2]) {
		t.Errorf("after a logout, CLI lists alice's sessions %v, want %v", keys, want[:2])
	}
	if n := e.resp3.count(t, alice.id); n != 2 {
		t.Errorf("after a logout, SESSION.COUNT alice = %d, want 2", n)
	}
}

func listedKeys(l []listed) []string {
	keys := []string{}
	for _, s := range l {
		keys = append(keys, s.Key)
	}
	return keys
}

// testRevoke logs alice in from three devices, revokes her sessions with
// revoke (all, or all but the one of the current device, which it is
// given), and checks that the revoked ones are gone from the store
// and logged out at their next request, the current one, if kept, is
// logged in, and bob is logged in.
func (e *logins) testRevoke(t *testing.T, revoke func(current *device) int, exceptCurrent bool) {
	if n := e.resp3.count(t, alice.id); n != 0 {
		t.Fatalf("before the round: SESSION.COUNT alice = %d, want 0", n)
	}
	devs := e.loginAlice(t)
	current := devs[1]
	want := 3
	if exceptCurrent {
		want = 2
	}
	if n := revoke(current); n != want {
		t.Errorf("revoked %d sessions, want %d", n, want)
	}
	for _, d := range devs {
		kept := d == current && exceptCurrent
		if ttl := e.f.pttl(t, d.key); (ttl > 0) != kept {
			t.Errorf("after the revoke: PTTL %s = %d (kept: %v)", d.key, ttl, kept)
		}
		if e.ls.memcache && !kept {
			// The memcached listener no longer has it either.
			if line := e.f.mc(t, "get "+d.key); line != "END" {
				t.Errorf("after the revoke: get %s over memcached: %q, want END (no such key)", d.key, line)
			}
		}
		if kept {
			e.wantLoggedIn(t, d, alice)
		} else {
			e.wantLoggedOut(t, d)
		}
	}
	e.wantLoggedIn(t, e.bob, bob)
	wantLeft := 0
	if exceptCurrent {
		wantLeft = 1
	}
	if n := e.resp3.count(t, alice.id); n != wantLeft {
		t.Errorf("after the revoke: SESSION.COUNT alice = %d, want %d", n, wantLeft)
	}
	if n := e.resp3.count(t, bob.id); n != 1 {
		t.Errorf("after the revoke: SESSION.COUNT %s = %d, want 1 (bob's)", bob.id, n)
	}
}

// appRevoke returns a revoke that POSTs to the app's route from the
// current device: the app sends SESSION.REVOKE through its own Redis
// client.
func (e *logins) appRevoke(t *testing.T, path string) func(current *device) int {
	return func(current *device) int {
		t.Helper()
		status, body := e.send(t, current, "POST", path, url.Values{})
		var got struct{ Revoked *int }
		if err := json.Unmarshal(body, &got); status != http.StatusOK || err != nil || got.Revoked == nil {
			t.Fatalf("POST %s: %d %s, want 200 with the number revoked", path, status, body)
		}
		return *got.Revoked
	}
}
