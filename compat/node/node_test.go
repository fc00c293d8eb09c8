// Package node runs the Node.js session stores that people use with Redis
// and memcached against the target server, unchanged: express-session with
// connect-redis 9 (node-redis 5), connect-redis 7 (ioredis 5) and
// connect-memcached 3 (the `memcached` client), and koa with
// koa-generic-session on koa-redis 4 (ioredis 4) or on a store built on the
// `memcached` client; node-redis and ioredis also over TLS with client
// certificates. Each stack runs as two app processes (the apps in
// this directory) sharing one server, driven over HTTP, with the server's
// keys checked over raw RESP (and, against memcached itself, its meta
// commands). The same stores with passport log users in for the user
// index's tests (passport_test.go): listing and revoking a user's sessions
// over RESP, HTTP and the CLI.
//
// The apps' packages are pinned in package-lock.json and installed by
// scripts/setup-node.sh. Run against the references with
// COMPAT_TARGET=redis or COMPAT_TARGET=memcached.
package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// stack is one session library and its Redis client, run as one app file.
type stack struct {
	name string
	// app is the app's file in this directory.
	app string
	// prefix is the key prefix the app is configured with (env PREFIX).
	prefix string
	// unix connects the app over the server's Unix socket, not TCP.
	unix bool
	// memcache says the app speaks the memcached protocol, not Redis's.
	memcache bool
	// password is required by the server and passed to the app.
	password string
	// storeAPI says the store has all, length, ids and clear (with
	// memcache: length and clear, which are memcached's `stats items` and
	// `flush_all`).
	storeAPI bool
	// env is more of the app's environment.
	env []string
	// tls connects the app over TLS (rediss://) with a client
	// certificate, to a server that requires one.
	tls bool
}

// stacks covers every app over TCP and the Unix socket, with and without a
// password, and node-redis over RESP2 and RESP3. Each stack costs two node
// processes and about 4s, mostly waiting for TTLs.
var stacks = []stack{
	{name: "connect-redis9", app: "express-connect-redis9.js", prefix: "sess:", storeAPI: true},
	{name: "connect-redis9-unix", app: "express-connect-redis9.js", prefix: "myapp:", unix: true, storeAPI: true},
	{name: "connect-redis9-resp3-password", app: "express-connect-redis9.js", prefix: "sess:", password: "compat secret", storeAPI: true, env: []string{"REDIS_RESP=3"}},
	{name: "connect-redis7-ioredis", app: "express-connect-redis7-ioredis.js", prefix: "sess:", storeAPI: true},
	{name: "connect-redis7-ioredis-unix-password", app: "express-connect-redis7-ioredis.js", prefix: "sess:", unix: true, password: "compat secret", storeAPI: true},
	{name: "koa-redis-password", app: "koa-redis.js", prefix: "koa:sess:", password: "compat secret"},
	// node-redis with rediss:// and socket {tls, ca, cert, key}; ioredis
	// with tls {ca, cert, key}.
	{name: "connect-redis9-tls", app: "express-connect-redis9.js", prefix: "sess:", tls: true, storeAPI: true},
	{name: "connect-redis7-ioredis-tls-password", app: "express-connect-redis7-ioredis.js", prefix: "sess:", tls: true, password: "compat secret", storeAPI: true},
	// The node memcached client cannot reach a Unix socket (it appends a
	// port to the path), so the memcached stacks run over TCP; gomemcache
	// covers the memcached protocol's Unix socket.
	{name: "connect-memcached", app: "express-connect-memcached.js", prefix: "sess:", memcache: true, storeAPI: true},
	{name: "connect-memcached-noprefix", app: "express-connect-memcached.js", prefix: "", memcache: true, storeAPI: true},
	{name: "koa-memcached", app: "koa-memcached.js", prefix: "koa:sess:", memcache: true},
	{name: "koa-memcached-password", app: "koa-memcached.js", prefix: "koa:sess:", memcache: true, password: "compat secret"},
}

func TestStores(t *testing.T) {
	node := harness.Need(t, "node")
	needModules(t)
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			var files *harness.TLSFiles
			if st.tls {
				files, st.env = tlsFiles(t, st.env)
			}
			srv := harness.StartTarget(t, harness.Target{Unix: st.unix, Password: st.password, Memcache: st.memcache, TLS: files})
			if st.unix && srv.Unix == "" && srv.MemcacheUnix == "" {
				t.Fatal("the server opened no Unix socket")
			}
			a, b := startApp(t, node, st, srv), startApp(t, node, st, srv)
			env := &fixture{st: st, srv: srv, a: a.url(t), b: b.url(t)}
			t.Run("shared", env.testShared)
			t.Run("touch", env.testTouch)
			t.Run("destroy", env.testDestroy)
			t.Run("expiry", env.testExpiry)
			if st.tls {
				t.Run("over tls", env.testOverTLS)
			}
			switch {
			case st.storeAPI && st.memcache:
				t.Run("store", env.testMemcacheStore)
			case st.storeAPI:
				t.Run("store", env.testStore)
			}
		})
	}
}

// fixture is one stack's server and its two apps.
type fixture struct {
	st   stack
	srv  *harness.Server
	a, b string // base URLs of the two apps
}

// testShared: a session written through one app is read and updated
// through the other.
func (f *fixture) testShared(t *testing.T) {
	br := testkit.NewBrowser()
	s := visit(t, br, "POST", f.a+"/set?k=user&v=alice")
	key := f.st.prefix + s.ID
	if ttl := f.pttl(t, key); ttl <= 0 {
		t.Fatalf("after /set through app A: PTTL %s = %d, want > 0", key, ttl)
	}
	got := visit(t, br, "GET", f.b+"/get")
	if got.ID != s.ID || got.Data["user"] != "alice" {
		t.Fatalf("app B read %+v, want id %s with user=alice", got, s.ID)
	}
	if f.st.memcache && f.srv.Addr != "" {
		// sessiond: the session a memcached client stored is the same
		// bytes over the Redis protocol.
		var stored map[string]any
		if v, ok := f.do(t, "GET", key).(string); !ok || json.Unmarshal([]byte(v), &stored) != nil || stored["user"] != "alice" {
			t.Fatalf("GET %s over RESP = %v, want the session's JSON with user=alice", key, v)
		}
	}
	visit(t, br, "POST", f.b+"/set?k=n&v=2")
	got = visit(t, br, "GET", f.a+"/get")
	if got.Data["user"] != "alice" || got.Data["n"] != "2" {
		t.Fatalf("app A read %+v after app B's update, want user=alice n=2", got.Data)
	}
}

// testOverTLS: the apps' connections are on the server's TLS listener.
func (f *fixture) testOverTLS(t *testing.T) {
	list, _ := f.do(t, "CLIENT", "LIST").(string)
	if n := strings.Count(list, "laddr="+f.srv.TLSAddr+" "); n < 2 {
		t.Fatalf("CLIENT LIST shows %d connections on the TLS listener %s, want the two apps':\n%s", n, f.srv.TLSAddr, list)
	}
}

// testTouch: a request that does not change the session renews its TTL.
func (f *fixture) testTouch(t *testing.T) {
	br := testkit.NewBrowser()
	s := visit(t, br, "POST", f.a+"/set?k=x&v=1&ttl=10000")
	key := f.st.prefix + s.ID
	before := f.pttl(t, key)
	if before <= 8000 || before > 10000 {
		t.Fatalf("after /set with a 10s cookie: PTTL %s = %d, want about 10000", key, before)
	}
	// 2.5s: connect-memcached renews to whole seconds, rounded down, so
	// a renewal shows clearly only once more than a second has gone.
	time.Sleep(2500 * time.Millisecond)
	aged := f.pttl(t, key)
	if aged > before-2000 {
		t.Fatalf("PTTL %s went from %d to %d in 2.5s, want it to fall", key, before, aged)
	}
	if got := visit(t, br, "GET", f.b+"/touch"); got.Data["x"] != "1" {
		t.Fatalf("/touch through app B read %+v, want x=1", got.Data)
	}
	if after := f.pttl(t, key); after < aged+1000 {
		t.Fatalf("/touch did not renew the TTL: PTTL %s = %d before, %d after", key, aged, after)
	}
	if got := visit(t, br, "GET", f.a+"/get"); got.Data["x"] != "1" {
		t.Fatalf("after /touch app A read %+v, want x=1", got.Data)
	}
}

// testDestroy: a destroyed session is gone from the other app and from the
// server, even for a client that still sends the old cookie.
func (f *fixture) testDestroy(t *testing.T) {
	br := testkit.NewBrowser()
	s := visit(t, br, "POST", f.a+"/set?k=x&v=1")
	key := f.st.prefix + s.ID
	stale := br.Clone()
	visit(t, br, "GET", f.b+"/destroy")
	if ttl := f.pttl(t, key); ttl != -2 {
		t.Errorf("after /destroy: PTTL %s = %d, want -2 (no such key)", key, ttl)
	}
	for _, app := range []string{f.a, f.b} {
		if got := visit(t, stale, "GET", app+"/get"); len(got.Data) != 0 {
			t.Errorf("%s/get with the destroyed session's cookie read %+v, want nothing", app, got.Data)
		}
	}
}

// testExpiry: a session ends with its cookie's maxAge, on the server and so
// in both apps, even for a client that still sends the cookie.
func (f *fixture) testExpiry(t *testing.T) {
	br := testkit.NewBrowser()
	s := visit(t, br, "POST", f.a+"/set?k=x&v=1&ttl=1500")
	key := f.st.prefix + s.ID
	if ttl := f.pttl(t, key); ttl <= 0 || ttl > 2000 {
		t.Fatalf("after /set with a 1.5s cookie: PTTL %s = %d, want 1..2000", key, ttl)
	}
	if got := visit(t, br, "GET", f.b+"/get"); got.Data["x"] != "1" {
		t.Fatalf("app B read %+v before expiry, want x=1", got.Data)
	}
	start := time.Now()
	for f.pttl(t, key) != -2 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s still exists 5s after its 1.5s cookie was last renewed", key)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, app := range []string{f.a, f.b} {
		if got := visit(t, br, "GET", app+"/get"); len(got.Data) != 0 {
			t.Errorf("%s/get after expiry read %+v, want nothing", app, got.Data)
		}
	}
	if ttl := f.pttl(t, key); ttl != -2 {
		t.Errorf("after reading the expired session: PTTL %s = %d, want -2", key, ttl)
	}
}

// testStore: the store-level all, length, ids and clear see exactly the
// sessions under the prefix, and clear leaves other keys alone.
func (f *fixture) testStore(t *testing.T) {
	others := []string{"unrelated", "other:" + f.st.prefix + "1"}
	for _, k := range others {
		if r := f.do(t, "SET", k, "keep"); r != "OK" {
			t.Fatalf("SET %s: %v", k, r)
		}
	}
	f.storeOp(t, f.a, "clear")
	if n := f.length(t, f.b); n != 0 {
		t.Fatalf("length after clear = %d, want 0", n)
	}

	ids := map[string]string{} // session id -> value of n
	var browsers []*testkit.Browser
	for i, app := range []string{f.a, f.b} {
		br := testkit.NewBrowser()
		s := visit(t, br, "POST", fmt.Sprintf("%s/set?k=n&v=%d", app, i))
		ids[s.ID] = strconv.Itoa(i)
		browsers = append(browsers, br)
	}
	if n := f.length(t, f.a); n != 2 {
		t.Errorf("length = %d, want 2", n)
	}
	var gotIDs []string
	decode(t, f.storeOp(t, f.b, "ids"), &gotIDs)
	slices.Sort(gotIDs)
	wantIDs := sortedKeys(ids)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("ids = %v, want %v", gotIDs, wantIDs)
	}
	var all []map[string]any
	decode(t, f.storeOp(t, f.a, "all"), &all)
	if len(all) != 2 {
		t.Errorf("all returned %d sessions, want 2: %v", len(all), all)
	}
	for _, s := range all {
		id, _ := s["id"].(string)
		if want, ok := ids[id]; !ok || s["n"] != want {
			t.Errorf("all returned %v, want one of %v (id -> n)", s, ids)
		}
	}

	f.storeOp(t, f.b, "clear")
	if n := f.length(t, f.a); n != 0 {
		t.Errorf("length after clear = %d, want 0", n)
	}
	for id := range ids {
		if ttl := f.pttl(t, f.st.prefix+id); ttl != -2 {
			t.Errorf("after clear: PTTL %s%s = %d, want -2", f.st.prefix, id, ttl)
		}
	}
	for _, br := range browsers {
		if got := visit(t, br, "GET", f.a+"/get"); len(got.Data) != 0 {
			t.Errorf("/get after clear read %+v, want nothing", got.Data)
		}
	}
	for _, k := range others {
		if r := f.do(t, "GET", k); r != "keep" {
			t.Errorf("clear touched %s outside prefix %q: GET = %v, want keep", k, f.st.prefix, r)
		}
	}
}

// storeOp calls /store/op on an app and returns the answer's op field.
func (f *fixture) storeOp(t *testing.T, app, op string) json.RawMessage {
	t.Helper()
	var res map[string]json.RawMessage
	decode(t, testkit.NewBrowser().Call(t, "GET", app+"/store/"+op), &res)
	return res[op]
}

func (f *fixture) length(t *testing.T, app string) int {
	t.Helper()
	var n int
	decode(t, f.storeOp(t, app, "length"), &n)
	return n
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decoding %q: %v", data, err)
	}
}

// needModules stops the test unless `npm ci` has installed every package
// in package.json: skipped outside CI, failed in CI, like harness.Need.
func needModules(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Dependencies map[string]string }
	decode(t, data, &pkg)
	for _, name := range sortedKeys(pkg.Dependencies) {
		if _, err := os.Stat(filepath.Join("node_modules", name, "package.json")); err != nil {
			msg := fmt.Sprintf("compat/node/node_modules has no %s: run scripts/setup-node.sh", name)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// Apps.

var listening = regexp.MustCompile(`(?m)^listening (\d+)$`)

// app is a running app process.
type app struct {
	file   string
	cmd    *exec.Cmd
	out    *output
	exited chan struct{}
}

// startApp starts one app of the stack with PORT=0 against srv. The process
// is killed when the test ends; its output is logged if the test failed.
func startApp(t *testing.T, node string, st stack, srv *harness.Server) *app {
	t.Helper()
	cmd := exec.Command(node, st.app)
	cmd.Env = append(appEnv(), "PORT=0", "PREFIX="+st.prefix, "REDIS_PASSWORD="+st.password)
	cmd.Env = append(cmd.Env, st.env...)
	switch {
	case st.memcache && st.unix:
		cmd.Env = append(cmd.Env, "MEMCACHED="+srv.MemcacheUnix)
	case st.memcache:
		cmd.Env = append(cmd.Env, "MEMCACHED="+srv.MemcacheAddr)
	case st.unix:
		cmd.Env = append(cmd.Env, "REDIS_SOCKET="+srv.Unix)
	case st.tls:
		cmd.Env = append(cmd.Env, "REDIS_URL=rediss://"+srv.TLSAddr)
	default:
		cmd.Env = append(cmd.Env, "REDIS_URL=redis://"+srv.Addr)
	}
	a := &app{file: st.app, cmd: cmd, out: &output{port: make(chan string, 1)}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = a.out, a.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(a.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-a.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("node %s (pid %d) did not exit within 10s of SIGKILL", a.file, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("node %s (pid %d) output:\n%s", a.file, cmd.Process.Pid, a.out)
		}
	})
	return a
}

// url waits for the app's "listening <port>" line and returns its base URL.
func (a *app) url(t *testing.T) string {
	t.Helper()
	select {
	case port := <-a.out.port:
		return "http://127.0.0.1:" + port
	case <-a.exited:
		t.Fatalf("node %s exited before listening: %v\n%s", a.file, a.cmd.ProcessState, a.out)
	case <-time.After(20 * time.Second):
		t.Fatalf("node %s did not print `listening <port>` within 20s:\n%s", a.file, a.out)
	}
	return ""
}

// appEnv is the environment without the variables the apps read, so that a
// developer's settings do not leak into the tests.
func appEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "REDIS_") && !slices.Contains([]string{"MEMCACHED", "PORT", "PREFIX", "SESSION_SECRET"}, name) {
			env = append(env, kv)
		}
	}
	return env
}

// output collects an app's stdout and stderr and picks out the port from
// its "listening <port>" line.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	port chan string // receives the port once
	sent bool
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if m := listening.FindSubmatch(o.buf.Bytes()); m != nil && !o.sent {
		o.sent = true
		o.port <- string(m[1])
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// HTTP.

// session is an app's answer to the session routes.
type session struct {
	ID   string
	Data map[string]any
}

// visit calls a session route with br and decodes the app's answer. br
// keeps a cookie past its expiry: the expiry test must show that the
// server forgot the session, not that the client stopped asking for it.
func visit(t *testing.T, br *testkit.Browser, method, url string) session {
	t.Helper()
	var s session
	decode(t, br.Call(t, method, url), &s)
	return s
}

// RESP.

// pttl returns PTTL key: milliseconds left, -1 for no expiry, -2 for no key.
// Against memcached, which has no Redis protocol, it asks with the meta
// command `mg`, to the second.
func (f *fixture) pttl(t *testing.T, key string) int64 {
	t.Helper()
	if f.srv.Addr == "" {
		return f.metaTTL(t, key)
	}
	n, ok := f.do(t, "PTTL", key).(int64)
	if !ok {
		t.Fatalf("PTTL %s did not answer an integer", key)
	}
	return n
}

// do sends one command to the server over a new TCP connection, after AUTH
// when the server has a password, and returns the reply: string for simple
// and bulk strings, int64, nil for a null bulk string, []any for an array.
// An error reply fails the test.
func (f *fixture) do(t *testing.T, args ...string) any {
	t.Helper()
	conn, err := net.DialTimeout("tcp", f.srv.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	if f.st.password != "" {
		if _, err := command(conn, r, "AUTH", f.st.password); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
	}
	reply, err := command(conn, r, args...)
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return reply
}

// command writes args as a RESP array of bulk strings and reads one reply.
func command(w io.Writer, r *bufio.Reader, args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return nil, err
	}
	return readReply(r)
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, fmt.Errorf("server replied %q", line)
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 {
			return nil, fmt.Errorf("bad array length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		items := make([]any, n)
		for i := range items {
			if items[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// tlsFiles writes a new CA, a server certificate and a client certificate
// it issued to a temporary directory, and returns the server's files (the
// CA required of clients) and env with the client's (REDIS_TLS_CA,
// REDIS_TLS_CERT, REDIS_TLS_KEY).
func tlsFiles(t *testing.T, env []string) (*harness.TLSFiles, []string) {
	t.Helper()
	dir := t.TempDir()
	ca := testkit.NewCA(t, "sessiond compat CA")
	f := &harness.TLSFiles{CA: ca.Write(t, dir, "ca")}
	f.Cert, f.Key = ca.Server(t).Write(t, dir, "server")
	cert, key := ca.Client(t, "node app").Write(t, dir, "client")
	return f, append(slices.Clone(env), "REDIS_TLS_CA="+f.CA, "REDIS_TLS_CERT="+cert, "REDIS_TLS_KEY="+key)
}
