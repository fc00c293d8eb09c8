package goclients

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// connChecks cover the handshake and the connection and server commands.
var connChecks = []check{
	{"negotiated-protocol", checkNegotiatedProtocol},
	{"hello", checkHello},
	{"ping-echo", checkPingEcho},
	{"select", checkSelect},
	{"info", checkInfo},
	{"config-get", checkConfigGet},
	{"client-name-id", checkClientNameID},
	{"client-name-option", checkClientNameOption},
	{"time", checkTime},
	{"wait", checkWait},
	{"auth-without-password", checkAuthWithoutPassword},
}

// checkNegotiatedProtocol proves the pooled connection speaks the protocol
// asked for. go-redis falls back to RESP2 silently when HELLO gets an error
// reply, so without this a RESP3 variant could pass while testing RESP2.
// CONFIG GET is a map in RESP3 and a flat array in RESP2.
func checkNegotiatedProtocol(t *testing.T, e env) {
	got, err := e.rdb.Do(e.ctx, "config", "get", "appendonly").Result()
	if err != nil {
		t.Fatalf("CONFIG GET appendonly: %v", err)
	}
	var want any = []any{"appendonly", "no"}
	if e.v.protocol == 3 {
		want = map[any]any{"appendonly": "no"}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CONFIG GET appendonly over RESP%d = %#v (%T), want %#v", e.v.protocol, got, got, want)
	}
}

// checkHello checks HELLO's reply: a map in RESP3 and a flat array of
// pairs in RESP2, with the fields node-redis and go-redis read.
func checkHello(t *testing.T, e env) {
	got, err := e.rdb.Do(e.ctx, "hello", e.v.protocol).Result()
	if err != nil {
		t.Fatalf("HELLO %d: %v", e.v.protocol, err)
	}
	fields, err := pairs(got, e.v.protocol)
	if err != nil {
		t.Fatalf("HELLO %d: %v", e.v.protocol, err)
	}
	for _, k := range []string{"server", "version", "proto", "id", "mode", "role", "modules"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("HELLO %d: no field %q in %v", e.v.protocol, k, fields)
		}
	}
	want := map[string]any{"proto": int64(e.v.protocol), "mode": "standalone", "role": "master"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("HELLO %d: %s = %#v, want %#v", e.v.protocol, k, fields[k], v)
		}
	}
	if id, ok := fields["id"].(int64); !ok || id <= 0 {
		t.Errorf("HELLO %d: id = %#v, want a positive integer", e.v.protocol, fields["id"])
	}
	if m, ok := fields["modules"].([]any); !ok || len(m) != 0 {
		t.Errorf("HELLO %d: modules = %#v, want an empty array", e.v.protocol, fields["modules"])
	}
}

// pairs turns a reply that is a map in RESP3 and a flat array of key,
// value pairs in RESP2 into a Go map.
func pairs(reply any, protocol int) (map[string]any, error) {
	out := map[string]any{}
	switch r := reply.(type) {
	case map[any]any:
		if protocol != 3 {
			return nil, fmt.Errorf("map reply over RESP%d", protocol)
		}
		for k, v := range r {
			out[fmt.Sprint(k)] = v
		}
	case []any:
		if protocol != 2 {
			return nil, fmt.Errorf("array reply over RESP%d, want a map", protocol)
		}
		if len(r)%2 != 0 {
			return nil, fmt.Errorf("odd number of elements in %#v", r)
		}
		for i := 0; i < len(r); i += 2 {
			out[fmt.Sprint(r[i])] = r[i+1]
		}
	default:
		return nil, fmt.Errorf("reply %#v (%T) is neither a map nor an array", reply, reply)
	}
	return out, nil
}

func checkPingEcho(t *testing.T, e env) {
	want(t, e.rdb.Ping(e.ctx), "PONG")
	// PING with an argument is a bulk reply, not a status.
	want(t, e.rdb.Do(e.ctx, "ping", "hello"), any("hello"))
	want(t, e.rdb.Echo(e.ctx, "hello world"), "hello world")
	want(t, e.rdb.Echo(e.ctx, "bin\x00\r\n\xff"), "bin\x00\r\n\xff")
}

// checkSelect: index 0 is the one every session store uses (connect-redis,
// koa-redis and gorilla send SELECT 0 when configured so).
func checkSelect(t *testing.T, e env) {
	want(t, e.rdb.Do(e.ctx, "select", 0), any("OK"))
}

// checkInfo parses INFO the way ioredis and go-redis' InfoMap do.
func checkInfo(t *testing.T, e env) {
	text := ok(t, e.rdb.Info(e.ctx, "server")).Val()
	sections := parseInfo(text)
	server, found := sections["Server"]
	if !found {
		t.Fatalf("INFO server: no \"# Server\" section in %q", text)
	}
	if server["redis_version"] == "" {
		t.Errorf("INFO server: no redis_version in %v", server)
	}
	if len(sections) != 1 {
		t.Errorf("INFO server: sections %v, want only Server", keys(sections))
	}
	// ioredis's ready check reads loading:0 from a plain INFO.
	all := parseInfo(ok(t, e.rdb.Info(e.ctx)).Val())
	if got := all["Persistence"]["loading"]; got != "0" {
		t.Errorf("INFO: Persistence loading = %q, want \"0\"", got)
	}
}

// parseInfo splits INFO text into sections of key:value fields. Lines end
// in CRLF; a RESP3 verbatim reply's "txt:" prefix is stripped by go-redis.
func parseInfo(text string) map[string]map[string]string {
	sections := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(text, "\r\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			cur = map[string]string{}
			sections[strings.TrimPrefix(line, "# ")] = cur
		case cur != nil && strings.Contains(line, ":"):
			k, v, _ := strings.Cut(line, ":")
			cur[k] = v
		}
	}
	return sections
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkConfigGet: redis-benchmark asks for save and appendonly before it
// starts; an unknown parameter is an empty reply, not an error.
func checkConfigGet(t *testing.T, e env) {
	save := ok(t, e.rdb.ConfigGet(e.ctx, "save")).Val()
	if _, found := save["save"]; !found || len(save) != 1 {
		t.Errorf("CONFIG GET save = %v, want one field save", save)
	}
	want := map[string]string{"appendonly": "no"}
	if got := ok(t, e.rdb.ConfigGet(e.ctx, "appendonly")).Val(); !reflect.DeepEqual(got, want) {
		t.Errorf("CONFIG GET appendonly = %v, want %v", got, want)
	}
	if got := ok(t, e.rdb.ConfigGet(e.ctx, "no-such-parameter")).Val(); len(got) != 0 {
		t.Errorf("CONFIG GET no-such-parameter = %v, want empty", got)
	}
}

// checkClientNameID holds two connections at once, so that the name and
// id are seen to belong to one connection.
func checkClientNameID(t *testing.T, e env) {
	c1, c2 := e.rdb.Conn(), e.rdb.Conn()
	defer c1.Close()
	defer c2.Close()
	want(t, c1.ClientSetName(e.ctx, "compat-conn"), true)
	want(t, c1.ClientGetName(e.ctx), "compat-conn")
	wantNil(t, c2.ClientGetName(e.ctx))
	id1, id2 := ok(t, c1.ClientID(e.ctx)).Val(), ok(t, c2.ClientID(e.ctx)).Val()
	if id1 <= 0 || id2 <= 0 || id1 == id2 {
		t.Errorf("CLIENT ID = %d and %d, want two distinct positive ids", id1, id2)
	}
	info := ok(t, c1.Do(e.ctx, "client", "info")).String()
	for _, f := range []string{fmt.Sprintf("id=%d ", id1), " name=compat-conn "} {
		if !strings.Contains(info, f) {
			t.Errorf("CLIENT INFO: no %q in %q", f, info)
		}
	}
	list := ok(t, c2.Do(e.ctx, "client", "list")).String()
	if !strings.Contains(list, fmt.Sprintf("id=%d ", id1)) || !strings.Contains(list, fmt.Sprintf("id=%d ", id2)) {
		t.Errorf("CLIENT LIST: want ids %d and %d in %q", id1, id2, list)
	}
	// An empty name removes it, and the pooled connection goes back clean.
	want(t, c1.ClientSetName(e.ctx, ""), true)
	wantNil(t, c1.ClientGetName(e.ctx))
}

// checkClientNameOption: go-redis sends Options.ClientName in HELLO's
// SETNAME and again as CLIENT SETNAME.
func checkClientNameOption(t *testing.T, e env) {
	opt := clientOptions(e.srv, e.v)
	opt.ClientName = "compat-option"
	want(t, newClient(t, opt).ClientGetName(e.ctx), "compat-option")
}

func checkTime(t *testing.T, e env) {
	got := ok(t, e.rdb.Time(e.ctx)).Val()
	if d := time.Since(got); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("TIME = %v, %v away from this machine's clock", got, d)
	}
}

// checkWait: a single server has no replicas, so WAIT 0 is met at once
// whatever the timeout; 0 would otherwise mean "block forever".
func checkWait(t *testing.T, e env) {
	for _, timeout := range []time.Duration{0, 2 * time.Second} {
		start := time.Now()
		want(t, e.rdb.Wait(e.ctx, 0, timeout), int64(0))
		if d := time.Since(start); d > time.Second {
			t.Errorf("WAIT 0 %d took %v, want an immediate reply", timeout.Milliseconds(), d)
		}
	}
}

// checkAuthWithoutPassword pins the reply to AUTH on a server that has no
// password (clients configured with one by mistake see it).
func checkAuthWithoutPassword(t *testing.T, e env) {
	if e.v.password != "" {
		t.Skip("the server has a password")
	}
	c := e.rdb.Conn()
	defer c.Close()
	wantErr(t, c.Auth(e.ctx, "secret"),
		"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
}

// TestGoRedisAuth connects to a password-protected server with the wrong
// password and with none, in both protocols.
func TestGoRedisAuth(t *testing.T) {
	t.Parallel()
	const password = "compat-secret"
	const (
		noAuth    = "NOAUTH Authentication required."
		wrongPass = "WRONGPASS invalid username-password pair or user is disabled."
		helloAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
	)
	srv := startTarget(t, password)
	for _, protocol := range []int{3, 2} {
		t.Run(fmt.Sprintf("resp%d", protocol), func(t *testing.T) {
			ctx := testContext(t)

			// A wrong password fails in the handshake: HELLO AUTH, then
			// go-redis's fallback AUTH, both get WRONGPASS.
			wrong := newClient(t, clientOptions(srv, variant{protocol: protocol, password: "wrong"}))
			wantRedisErr(t, "PING with a wrong password", wrong.Ping(ctx).Err(), wrongPass)

			// Without a password the handshake's HELLO is refused, go-redis
			// goes on in RESP2, and every command gets NOAUTH.
			none := newClient(t, clientOptions(srv, variant{protocol: protocol}))
			wantErr(t, none.Ping(ctx), noAuth)
			wantErr(t, none.Get(ctx, "k"), noAuth)
			wantErr(t, none.Set(ctx, "k", "v", 0), noAuth)

			// On one connection: HELLO before AUTH, a wrong AUTH, then
			// HELLO with AUTH inside, which authenticates.
			c := none.Conn()
			defer c.Close()
			wantErr(t, c.Hello(ctx, protocol, "", "", ""), helloAuth)
			wantErr(t, c.Auth(ctx, "wrong"), wrongPass)
			wantErr(t, c.AuthACL(ctx, "default", "wrong"), wrongPass)
			wantErr(t, c.Ping(ctx), noAuth)
			ok(t, c.Hello(ctx, 2, "default", password, ""))
			want(t, c.Ping(ctx), "PONG")

			// AUTH alone authenticates too.
			c2 := none.Conn()
			defer c2.Close()
			want(t, c2.Auth(ctx, password), "OK")
			want(t, c2.Ping(ctx), "PONG")
		})
	}
}
