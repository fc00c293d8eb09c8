package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessiond/sessiond/compat/harness"
)

// The three ways an operator, or an app, reaches sessiond's user index
// (issue 15): the SESSION.* commands over RESP, the routes of the HTTP
// listener (--http-addr), and the `sessiond sessions` subcommands of the
// binary. Each lists and revokes a user's sessions; the tests hold them to
// the same answers.

// sessionsAPI is one of those ways.
type sessionsAPI interface {
	// name names the interface in subtests and failures.
	name() string
	// list returns the user's sessions, in the order the interface gives
	// them: the most recently written first.
	list(t *testing.T, user string) []listed
	// revoke revokes the user's sessions but the keys in except and
	// returns how many went.
	revoke(t *testing.T, user string, except ...string) int
}

// listed is one session as an interface lists it.
type listed struct {
	Key string
	// TTL is the time left, -1 for no expiry; to the second from the CLI,
	// to the millisecond from the others.
	TTL time.Duration
	// Written is the session's last write, to the millisecond.
	Written time.Time
	Size    int
}

// sessionsAPIs returns the interfaces of srv: RESP3 and RESP2 through
// go-redis, HTTP, and the CLI of the binary the harness built.
func sessionsAPIs(t *testing.T, srv *harness.Server) (resp3, resp2 *respAPI, web *httpAPI, cli *cliAPI) {
	t.Helper()
	if srv.Addr == "" || srv.HTTP == "" {
		t.Fatalf("sessiond has no RESP listener (%q) or no HTTP listener (%q)", srv.Addr, srv.HTTP)
	}
	return newRESPAPI(t, srv, 3), newRESPAPI(t, srv, 2), &httpAPI{base: "http://" + srv.HTTP, client: &http.Client{Timeout: 10 * time.Second}},
		&cliAPI{bin: harness.Binary(t), addr: srv.Addr}
}

// apiContext bounds one call: a server that stops answering fails the test
// rather than hanging it.
func apiContext(t *testing.T) context.Context {
	return harness.Context(t, 20*time.Second)
}

// RESP.

// respAPI sends SESSION.LIST, SESSION.COUNT and SESSION.REVOKE with
// go-redis's Do, as an app's Redis client would.
type respAPI struct {
	protocol int
	rdb      *redis.Client
}

func newRESPAPI(t *testing.T, srv *harness.Server, protocol int) *respAPI {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr,
		Protocol:              protocol,
		DialTimeout:           5 * time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // a retry would hide a dropped connection
		PoolSize:              2,
	})
	t.Cleanup(func() { rdb.Close() })
	return &respAPI{protocol: protocol, rdb: rdb}
}

func (a *respAPI) name() string { return fmt.Sprintf("RESP%d", a.protocol) }

func (a *respAPI) list(t *testing.T, user string) []listed {
	t.Helper()
	reply, err := a.rdb.Do(apiContext(t), "SESSION.LIST", user).Slice()
	if err != nil {
		t.Fatalf("%s: SESSION.LIST %s: %v", a.name(), user, err)
	}
	var out []listed
	for _, el := range reply {
		fields := respFields(t, a.name(), el)
		var s listed
		var ok [4]bool
		s.Key, ok[0] = fields["key"].(string)
		ttl, okTTL := fields["ttl"].(int64)
		written, okWritten := fields["written"].(int64)
		size, okSize := fields["size"].(int64)
		ok[1], ok[2], ok[3] = okTTL, okWritten, okSize
		if ok != [4]bool{true, true, true, true} || len(fields) != 4 {
			t.Fatalf("%s: SESSION.LIST %s: element %v, want key (bulk), ttl, written and size (integers)", a.name(), user, el)
		}
		s.TTL = time.Duration(ttl) * time.Millisecond
		if ttl == -1 {
			s.TTL = -1
		}
		s.Written, s.Size = time.UnixMilli(written), int(size)
		out = append(out, s)
	}
	return out
}

// respFields reads one element of SESSION.LIST: a map in RESP3, a flat
// field/value array in RESP2, with the fields in the order key, ttl,
// written, size either way.
func respFields(t *testing.T, api string, el any) map[string]any {
	t.Helper()
	order := []string{"key", "ttl", "written", "size"}
	fields := map[string]any{}
	switch el := el.(type) {
	case map[any]any: // RESP3; go-redis loses a map's order, so it is not checked here
		if api != "RESP3" {
			t.Fatalf("%s: SESSION.LIST answered a map %v, want a flat field/value array", api, el)
		}
		for k, v := range el {
			fields[fmt.Sprint(k)] = v
		}
	case []any:
		if api != "RESP2" || len(el)%2 != 0 {
			t.Fatalf("%s: SESSION.LIST element %v: want a map in RESP3, field/value pairs in RESP2", api, el)
		}
		for i := 0; i < len(el); i += 2 {
			name := fmt.Sprint(el[i])
			if i/2 >= len(order) || name != order[i/2] {
				t.Fatalf("%s: SESSION.LIST element %v: fields out of order, want %v", api, el, order)
			}
			fields[name] = el[i+1]
		}
	default:
		t.Fatalf("%s: SESSION.LIST element %#v is neither a map nor an array", api, el)
	}
	return fields
}

func (a *respAPI) revoke(t *testing.T, user string, except ...string) int {
	t.Helper()
	args := []any{"SESSION.REVOKE", user}
	if len(except) > 0 {
		args = append(args, "EXCEPT")
		for _, k := range except {
			args = append(args, k)
		}
	}
	n, err := a.rdb.Do(apiContext(t), args...).Int()
	if err != nil {
		t.Fatalf("%s: %v: %v", a.name(), args, err)
	}
	return n
}

// count sends SESSION.COUNT, which only RESP has.
func (a *respAPI) count(t *testing.T, user string) int {
	t.Helper()
	n, err := a.rdb.Do(apiContext(t), "SESSION.COUNT", user).Int()
	if err != nil {
		t.Fatalf("%s: SESSION.COUNT %s: %v", a.name(), user, err)
	}
	return n
}

// HTTP.

// httpAPI calls GET /sessions and POST /sessions/revoke on sessiond's HTTP
// listener.
type httpAPI struct {
	base   string
	client *http.Client
}

func (a *httpAPI) name() string { return "HTTP" }

// call sends the request and decodes the JSON answer into v, strictly:
// a field the API does not have fails the test.
func (a *httpAPI) call(t *testing.T, method, path string, q url.Values, v any) {
	t.Helper()
	u := a.base + path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(apiContext(t), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("HTTP: %s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP: %s %s: %s: %s", method, u, resp.Status, body.Bytes())
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("HTTP: %s %s: Content-Type %q, want application/json", method, u, ct)
	}
	d := json.NewDecoder(&body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("HTTP: %s %s: decoding %s: %v", method, u, body.Bytes(), err)
	}
}

func (a *httpAPI) list(t *testing.T, user string) []listed {
	t.Helper()
	var got struct {
		User     *string
		Sessions []struct {
			Key     *string
			TTLms   *int64 `json:"ttl_ms"`
			Written *string
			Size    *int
		}
	}
	a.call(t, "GET", "/sessions", url.Values{"user": {user}}, &got)
	if got.User == nil || *got.User != user || got.Sessions == nil {
		t.Fatalf("HTTP: GET /sessions?user=%s answered user %v and sessions %v, want user %q and an array", user, got.User, got.Sessions, user)
	}
	var out []listed
	for _, s := range got.Sessions {
		if s.Key == nil || s.TTLms == nil || s.Written == nil || s.Size == nil {
			t.Fatalf("HTTP: GET /sessions?user=%s: a session lacks key, ttl_ms, written or size: %+v", user, s)
		}
		l := listed{Key: *s.Key, TTL: time.Duration(*s.TTLms) * time.Millisecond, Size: *s.Size}
		if *s.TTLms == -1 {
			l.TTL = -1
		}
		l.Written = parseWritten(t, "HTTP", *s.Written)
		out = append(out, l)
	}
	return out
}

func (a *httpAPI) revoke(t *testing.T, user string, except ...string) int {
	t.Helper()
	var got struct {
		User    *string
		Revoked *int
	}
	a.call(t, "POST", "/sessions/revoke", url.Values{"user": {user}, "except": except}, &got)
	if got.User == nil || *got.User != user || got.Revoked == nil {
		t.Fatalf("HTTP: POST /sessions/revoke?user=%s answered user %v revoked %v, want user %q and a count", user, got.User, got.Revoked, user)
	}
	return *got.Revoked
}

// writtenLayout is how HTTP and the CLI write a session's last write:
// RFC 3339 in UTC, to the millisecond.
const writtenLayout = "2006-01-02T15:04:05.000Z"

func parseWritten(t *testing.T, api, s string) time.Time {
	t.Helper()
	w, err := time.Parse(writtenLayout, s)
	if err != nil {
		t.Fatalf("%s: written %q is not RFC 3339 in UTC to the millisecond: %v", api, s, err)
	}
	return w
}

// CLI.

// cliAPI runs `sessiond sessions list|revoke` against the server at addr,
// found with the server's own --addr flag.
type cliAPI struct {
	bin, addr string
}

func (a *cliAPI) name() string { return "CLI" }

// run runs the binary with args and returns its stdout; a non-zero exit
// fails the test with stderr.
func (a *cliAPI) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(apiContext(t), a.bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") { // a developer's settings must not pick the server
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("CLI: sessiond %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

func (a *cliAPI) list(t *testing.T, user string) []listed {
	t.Helper()
	out := a.run(t, "sessions", "list", "--user", user, "--addr", a.addr)
	var got []listed
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		ttl, okTTL := strings.CutPrefix(valueAt(f, 1), "ttl=")
		written, okWritten := strings.CutPrefix(valueAt(f, 2), "written=")
		size, okSize := strings.CutPrefix(valueAt(f, 3), "size=")
		if len(f) != 4 || !okTTL || !okWritten || !okSize {
			t.Fatalf("CLI: sessions list --user %s printed %q, want KEY<TAB>ttl=...<TAB>written=...<TAB>size=...", user, line)
		}
		l := listed{Key: f[0], TTL: -1, Written: parseWritten(t, "CLI", written)}
		if ttl != "none" {
			secs, err := strconv.ParseInt(ttl, 10, 64)
			if err != nil || secs < 0 {
				t.Fatalf("CLI: sessions list --user %s: ttl=%s, want seconds or none", user, ttl)
			}
			l.TTL = time.Duration(secs) * time.Second
		}
		var err error
		if l.Size, err = strconv.Atoi(size); err != nil {
			t.Fatalf("CLI: sessions list --user %s: size=%s: %v", user, size, err)
		}
		got = append(got, l)
	}
	return got
}

func valueAt(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func (a *cliAPI) revoke(t *testing.T, user string, except ...string) int {
	t.Helper()
	args := []string{"sessions", "revoke", "--user", user, "--addr", a.addr}
	for _, k := range except {
		args = append(args, "--except", k)
	}
	out := a.run(t, args...)
	n, err := strconv.Atoi(strings.TrimSuffix(out, "\n"))
	if err != nil {
		t.Fatalf("CLI: sessiond %s printed %q, want the number revoked alone on a line", strings.Join(args, " "), out)
	}
	return n
}
