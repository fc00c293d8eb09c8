package goclients

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessiond/sessiond/compat/harness"
)

// TestOperatorAgainstRedis runs one sequence of commands against sessiond
// and redis-server, both started here, and compares every operator
// command's reply (opSteps) and then every INFO field sessiond answers
// (infoFields): by name, section, unit and meaning; equal where the two
// count the same things, of the same form where they cannot be equal.
//
// Both servers run with the same maxmemory and policy. Every client
// connects with go-redis over RESP2 without CLIENT SETINFO (Redis 7.0 has
// none: an unknown subcommand there is not counted as a command run, a
// known one here would be), so that the counters see the same commands.
func TestOperatorAgainstRedis(t *testing.T) {
	harness.Need(t, "redis-server")
	ctx := harness.Context(t, 2*time.Minute)
	limits := []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}
	sd := newSide(t, "sessiond", harness.Start(t, append([]string{"--unix", filepath.Join(t.TempDir(), "s.sock")}, limits...)...))
	rd := newSide(t, "redis", harness.StartRedis(t, limits...))
	sides := []*side{sd, rd}
	for _, x := range sides {
		x.do(ctx, t, "CONFIG", "RESETSTAT")
	}
	refusedBySessiond = 0
	for _, st := range opSteps {
		if st.prepare != nil {
			for _, x := range sides {
				st.prepare(ctx, t, x)
			}
		}
		if st.args == nil {
			continue
		}
		s := sd.rdb.Do(ctx, st.args(sd)...)
		r := rd.rdb.Do(ctx, st.args(rd)...)
		st.cmp(t, s, r)
		if st.after != nil {
			for _, x := range sides {
				st.after(ctx, t, x)
			}
		}
	}
	compareInfo(ctx, t, sd, rd)
}

// side is one server under comparison and the clients the steps use.
type side struct {
	name string
	srv  *harness.Server
	rdb  *redis.Client // the client that runs the steps
}

func newSide(t *testing.T, name string, srv *harness.Server) *side {
	return &side{name: name, srv: srv, rdb: compareClient(t, srv)}
}

// compareClient is a go-redis client of one connection, RESP2, without
// CLIENT SETINFO.
func compareClient(t *testing.T, srv *harness.Server) *redis.Client {
	return newClient(t, &redis.Options{
		Addr: srv.Addr, Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1,
		DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
}

func (x *side) do(ctx context.Context, t *testing.T, args ...any) *redis.Cmd {
	t.Helper()
	c := x.rdb.Do(ctx, args...)
	if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("%s: %s: %v", x.name, show(c), err)
	}
	return c
}

// victim opens a client of its own on x and returns its CLIENT ID.
func (x *side) victim(ctx context.Context, t *testing.T) int64 {
	t.Helper()
	return ok(t, compareClient(t, x.srv).ClientID(ctx)).Val()
}

// opStep is a command sent to both servers, and how their replies compare.
// args builds the command for each side (an id differs between them);
// prepare and after run on each side before and after it.
type opStep struct {
	args           func(x *side) []any
	cmp            func(t *testing.T, s, r *redis.Cmd)
	prepare, after func(ctx context.Context, t *testing.T, x *side)
}

// same is a step whose reply is the same from both, errors included.
func same(args ...any) opStep {
	return opStep{args: func(*side) []any { return args }, cmp: sameReply}
}

// with is a step whose replies compare with cmp.
func with(cmp func(t *testing.T, s, r *redis.Cmd), args ...any) opStep {
	return opStep{args: func(*side) []any { return args }, cmp: cmp}
}

// errText is a reply's error as the client reads it, "" for none.
func errText(c *redis.Cmd) string {
	if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
		return err.Error()
	}
	return ""
}

func sameReply(t *testing.T, s, r *redis.Cmd) {
	t.Helper()
	if !reflect.DeepEqual(s.Val(), r.Val()) || errText(s) != errText(r) || errors.Is(s.Err(), redis.Nil) != errors.Is(r.Err(), redis.Nil) {
		t.Errorf("%s: sessiond %s, redis %s", show(s), render(s), render(r))
	}
}

func render(c *redis.Cmd) string {
	if e := errText(c); e != "" {
		return "error " + strconv.Quote(e)
	}
	if errors.Is(c.Err(), redis.Nil) {
		return "nil"
	}
	return fmt.Sprintf("%T %#v", c.Val(), c.Val())
}

// sameKind: both replies are of one kind (an error, nil, or one Go type).
func sameKind(t *testing.T, s, r *redis.Cmd) {
	t.Helper()
	if (errText(s) == "") != (errText(r) == "") || reflect.TypeOf(s.Val()) != reflect.TypeOf(r.Val()) {
		t.Errorf("%s: sessiond %s, redis %s: want the same kind of reply", show(s), render(s), render(r))
	}
}

// bytesOfKey: MEMORY USAGE of a key is an integer from both, at least the
// key's and value's bytes (valueLen).
func bytesOfKey(key string, valueLen int64) func(t *testing.T, s, r *redis.Cmd) {
	return func(t *testing.T, s, r *redis.Cmd) {
		t.Helper()
		for _, c := range []*redis.Cmd{s, r} {
			if n, err := c.Int64(); err != nil || n < int64(len(key))+valueLen {
				t.Errorf("%s: %s, want an integer of at least %d", show(c), render(c), int64(len(key))+valueLen)
			}
		}
	}
}

// sessiondRefuses: a documented difference. Redis answers with a value,
// sessiond with the error want (docs/OPERATIONS.md says why).
func sessiondRefuses(want string) func(t *testing.T, s, r *redis.Cmd) {
	return func(t *testing.T, s, r *redis.Cmd) {
		t.Helper()
		if errText(s) == want {
			refusedBySessiond++
		}
		if errText(s) != want || errText(r) != "" {
			t.Errorf("%s: sessiond %s, redis %s; want sessiond's error %q and a value from redis", show(s), render(s), render(r), want)
		}
	}
}

// asMap reads a RESP2 reply of name, value pairs.
func asMap(c *redis.Cmd) map[string]any {
	l, _ := c.Val().([]any)
	m := map[string]any{}
	for i := 0; i+1 < len(l); i += 2 {
		m[fmt.Sprint(l[i])] = l[i+1]
	}
	return m
}

// sameMap: both replies hold the same name, value pairs, in any order (as
// CONFIG GET answers in Redis's dictionary order).
func sameMap(t *testing.T, s, r *redis.Cmd) {
	t.Helper()
	if sm, rm := asMap(s), asMap(r); errText(s) != "" || errText(r) != "" || !reflect.DeepEqual(sm, rm) {
		t.Errorf("%s: sessiond %v %s, redis %v %s", show(s), sm, errText(s), rm, errText(r))
	}
}

// memoryStats: MEMORY STATS's fields sessiond answers are Redis's, with
// keys.count equal and the byte counts integers.
func memoryStats(t *testing.T, s, r *redis.Cmd) {
	t.Helper()
	sm, rm := asMap(s), asMap(r)
	for name, v := range sm {
		rv, found := rm[name]
		switch {
		case !found:
			t.Errorf("MEMORY STATS: sessiond's %s is not Redis's", name)
		case name == "keys.count" && v != rv:
			t.Errorf("MEMORY STATS keys.count: sessiond %v, redis %v", v, rv)
		case reflect.TypeOf(v) != reflect.TypeOf(rv):
			t.Errorf("MEMORY STATS %s: sessiond %T %v, redis %T %v", name, v, v, rv, rv)
		}
	}
	if len(sm) == 0 {
		t.Errorf("MEMORY STATS: sessiond %s", render(s))
	}
}

// valueForm classifies a setting's value: an integer, yes or no, or text.
func valueForm(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return "integer"
	}
	if v == "yes" || v == "no" {
		return "yes/no"
	}
	return "text"
}

// configForms: of CONFIG GET *, every setting both have reads in Redis's
// form (an integer where Redis has one, yes or no where Redis does).
func configForms(t *testing.T, s, r *redis.Cmd) {
	t.Helper()
	sm, rm := asMap(s), asMap(r)
	shared := 0
	for name, v := range sm {
		rv, found := rm[name]
		if !found {
			continue
		}
		shared++
		// save is "" or "3600 1 300 100 ...": text either way.
		if f, rf := valueForm(fmt.Sprint(v)), valueForm(fmt.Sprint(rv)); f != rf && name != "save" {
			t.Errorf("CONFIG GET %s: sessiond %q (%s), redis %q (%s)", name, v, f, rv, rf)
		}
	}
	if shared < 10 {
		t.Errorf("CONFIG GET *: %d settings in common with Redis, want Redis's names for sessiond's settings", shared)
	}
}

// clientLines: both CLIENT LIST replies have as many lines.
func clientLines(t *testing.T, s, r *redis.Cmd) {
	t.Helper()
	n := func(c *redis.Cmd) int { return len(lines(fmt.Sprint(c.Val()))) }
	if n(s) != n(r) || errText(s) != errText(r) {
		t.Errorf("%s: sessiond %d lines %s, redis %d lines %s", show(s), n(s), errText(s), n(r), errText(r))
	}
}

// killVictim is a step that kills a client of its own on each side with
// CLIENT KILL built by kill from that client's id, and checks that it is
// closed.
func killVictim(cmp func(t *testing.T, s, r *redis.Cmd), kill func(x *side, id int64) []any) opStep {
	ids := map[*side]int64{}
	return opStep{
		prepare: func(ctx context.Context, t *testing.T, x *side) { ids[x] = x.victim(ctx, t) },
		args:    func(x *side) []any { return kill(x, ids[x]) },
		cmp:     cmp,
		after: func(ctx context.Context, t *testing.T, x *side) {
			if list := x.do(ctx, t, "CLIENT", "LIST", "ID", ids[x]).String(); strings.Contains(list, "id=") {
				t.Errorf("%s: the killed client is still listed: %s", x.name, list)
			}
		},
	}
}

// addrOf returns the addr= of the client with id in x's CLIENT LIST.
func addrOf(x *side, id int64) string {
	list, _ := x.rdb.Do(context.Background(), "CLIENT", "LIST", "ID", id).Text()
	m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(list)
	if m == nil {
		return "unknown"
	}
	return m[1]
}

// monitorLines is a step that runs a command while a monitor watches on
// each side, and compares what the monitors read of it: the arguments as
// quoted and redacted, after the time and the client's address.
func monitorLines(args ...any) opStep {
	seen := map[*side][]string{}
	return opStep{
		prepare: func(ctx context.Context, t *testing.T, x *side) {
			nc, err := net.DialTimeout("tcp", x.srv.Addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(nc)
			fmt.Fprint(nc, "MONITOR\r\n")
			if l, err := br.ReadString('\n'); l != "+OK\r\n" {
				t.Fatalf("%s: MONITOR: %q %v", x.name, l, err)
			}
			cmd := x.rdb.Do(ctx, args...)
			x.rdb.Do(ctx, "PING") // the last line to read
			re := regexp.MustCompile(`^\+\d+\.\d{6} \[0 [^\]]+\] (.*)\r\n$`)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("%s: monitor after %s: %q %v", x.name, show(cmd), l, err)
				}
				m := re.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("%s: monitor line %q: not +<time> [0 <addr>] <args>", x.name, l)
				}
				if m[1] == `"PING"` {
					break
				}
				seen[x] = append(seen[x], m[1])
			}
		},
	}.withCompare(func(t *testing.T) {
		var s, r []string
		for x, l := range seen {
			if x.name == "sessiond" {
				s = l
			} else {
				r = l
			}
		}
		if !slices.Equal(s, r) {
			t.Errorf("MONITOR of %q: sessiond read %q, redis %q", args, s, r)
		}
	})
}

// withCompare turns a step that only prepares into one that compares what
// it prepared, once both sides have.
func (st opStep) withCompare(check func(t *testing.T)) opStep {
	prepare := st.prepare
	done := 0
	st.prepare = func(ctx context.Context, t *testing.T, x *side) {
		prepare(ctx, t, x)
		if done++; done == 2 {
			check(t)
		}
	}
	return st
}

const errNoIdle = "ERR sessiond keeps no time of last access: idle time not tracked. TTL shows how long a session has left."

// opSteps are the operator's commands compared, in order, with the
// commands that set up what they look at. The keys they leave are what
// INFO's keyspace and stats are compared on.
var opSteps = []opStep{
	same("SET", "op:a", "hello"),
	same("SET", "op:n", "12345"),
	same("SET", "op:long", strings.Repeat("a", 45)),
	same("SETEX", "op:t1", "1000", "x"),
	same("SETEX", "op:t2", "2000", "y"),
	same("PSETEX", "op:gone", "1", "z"),
	{prepare: func(context.Context, *testing.T, *side) { time.Sleep(10 * time.Millisecond) }},
	same("GET", "op:gone"), // expired: expired_keys counts it on both
	same("GET", "op:a"),
	same("GET", "op:missing"),
	same("STRLEN", "op:a"),
	same("STRLEN", "op:long"),
	same("STRLEN", "op:missing"),
	same("STRLEN"),
	same("STRLEN", "a", "b"),
	same("OBJECT", "ENCODING", "op:a"),
	same("OBJECT", "ENCODING", "op:n"),
	same("OBJECT", "ENCODING", "op:long"),
	same("OBJECT", "ENCODING", "op:missing"),
	same("OBJECT", "REFCOUNT", "op:a"), // not op:n: Redis shares small integers
	same("OBJECT", "REFCOUNT", "op:missing"),
	same("OBJECT", "FREQ", "op:a"),
	same("OBJECT", "FREQ", "op:missing"),
	with(sessiondRefuses(errNoIdle), "OBJECT", "IDLETIME", "op:a"),
	same("OBJECT", "IDLETIME", "op:missing"),
	same("OBJECT", "ENCODING"),
	same("OBJECT", "foo", "op:a"),
	with(sameKind, "OBJECT", "HELP"),
	with(bytesOfKey("op:a", 5), "MEMORY", "USAGE", "op:a"),
	with(bytesOfKey("op:long", 45), "MEMORY", "USAGE", "op:long", "SAMPLES", "0"),
	same("MEMORY", "USAGE", "op:missing"),
	same("MEMORY", "USAGE", "op:a", "SAMPLES"),
	same("MEMORY", "USAGE", "op:a", "SAMPLES", "-1"),
	same("MEMORY", "USAGE", "op:a", "SAMPLES", "x"),
	same("MEMORY", "USAGE", "op:a", "FOO", "1"),
	same("MEMORY", "USAGE"),
	same("MEMORY", "FOO"),
	same("MEMORY"),
	with(memoryStats, "MEMORY", "STATS"),
	with(sameKind, "MEMORY", "DOCTOR"),
	with(sameKind, "MEMORY", "MALLOC-STATS"),
	same("MEMORY", "PURGE"),
	same("TYPE", "op:a"),
	same("EXISTS", "op:a", "op:missing"),
	same("TTL", "op:a"),
	same("DBSIZE"),
	with(sameMap, "CONFIG", "GET", "maxmemory", "maxmemory-policy", "MAXMEMORY", "timeout", "appendonly", "save"),
	with(configForms, "CONFIG", "GET", "*"),
	same("CONFIG", "GET"),
	same("CLIENT", "KILL", "10.0.0.1:1"),
	same("CLIENT", "KILL", "ID", "999999"),
	same("CLIENT", "KILL", "ID", "0"),
	same("CLIENT", "KILL", "TYPE", "foo"),
	same("CLIENT", "KILL", "TYPE", "pubsub"),
	same("CLIENT", "KILL", "USER", "nobody"),
	same("CLIENT", "KILL", "SKIPME", "maybe"),
	same("CLIENT", "KILL", "FOO", "1"),
	same("CLIENT", "KILL"),
	killVictim(sameReply, func(x *side, id int64) []any { return []any{"CLIENT", "KILL", "ID", id} }),
	killVictim(sameReply, func(x *side, id int64) []any { return []any{"CLIENT", "KILL", "ADDR", addrOf(x, id), "SKIPME", "yes"} }),
	killVictim(sameReply, func(x *side, id int64) []any { return []any{"CLIENT", "KILL", addrOf(x, id)} }),
	killVictim(sameReply, func(x *side, id int64) []any {
		return []any{"CLIENT", "KILL", "USER", "default", "TYPE", "normal", "ID", id}
	}),
	with(clientLines, "CLIENT", "LIST"),
	with(clientLines, "CLIENT", "LIST", "TYPE", "normal"),
	with(clientLines, "CLIENT", "LIST", "TYPE", "replica"),
	with(clientLines, "CLIENT", "LIST", "TYPE", "pubsub"),
	same("CLIENT", "LIST", "TYPE", "foo"),
	same("CLIENT", "LIST", "ID", "x"),
	monitorLines("SET", "op:q", "a \"quoted\"\nvalue\\ \x01\xff"),
	monitorLines("AUTH", "secret"),
	monitorLines("AUTH", "default", "secret"),
	monitorLines("HELLO", "2", "AUTH", "default", "secret"),
	monitorLines("CONFIG", "GET", "maxmemory"),
	monitorLines("NOSUCHCOMMAND", "x"),
	{prepare: func(context.Context, *testing.T, *side) { time.Sleep(300 * time.Millisecond) }}, // Redis's expiry cycle samples avg_ttl
}
