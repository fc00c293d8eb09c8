package server_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"

	"github.com/sessiond/sessiond/server"
)

// sectionFields returns the fields of one INFO section, by name.
func sectionFields(t *testing.T, c *client, section string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range infoSection(t, c, section) {
		m[kv[0]] = kv[1]
	}
	return m
}

// statsSequence is the sequence of commands the counts below are Redis
// 7's for, checked against redis-server: calls, a failure inside a call
// (a bad EX), refusals (arity, also inside MULTI), an unknown command,
// a MULTI that EXEC aborts and one that runs.
var statsSequence = [][]string{
	{"SET", "a", "b"}, {"GET", "a"}, {"GET"}, {"SET", "a", "b", "EX", "x"}, {"FOO"},
	{"MULTI"}, {"SET", "a", "c"}, {"GET", "a", "b"}, {"EXEC"},
	{"MULTI"}, {"SET", "a", "c"}, {"EXEC"},
	{"DEL", "a"},
}

var statsWant = map[string]string{
	"cmdstat_set":   "calls=3,rejected_calls=0,failed_calls=1",
	"cmdstat_get":   "calls=1,rejected_calls=2,failed_calls=0",
	"cmdstat_multi": "calls=2,rejected_calls=0,failed_calls=0",
	"cmdstat_exec":  "calls=2,rejected_calls=0,failed_calls=1",
	"cmdstat_del":   "calls=1,rejected_calls=0,failed_calls=0",
}

// withoutTime drops the usec fields of a cmdstat line, which no two runs
// share.
func withoutTime(v string) string {
	var keep []string
	for _, kv := range strings.Split(v, ",") {
		if !strings.HasPrefix(kv, "usec") {
			keep = append(keep, kv)
		}
	}
	return strings.Join(keep, ",")
}

func TestCommandstats(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	for _, args := range statsSequence {
		c.do(args...)
	}
	cs := sectionFields(t, c, "commandstats")
	for name, want := range statsWant {
		if got := withoutTime(cs[name]); got != want {
			t.Errorf("%s: got %q, want %q", name, cs[name], want)
		}
	}
	if _, ok := cs["cmdstat_foo"]; ok {
		t.Errorf("an unknown command has a cmdstat line: %v", cs)
	}
	es := sectionFields(t, c, "errorstats")
	if es["errorstat_ERR"] != "count=4" || es["errorstat_EXECABORT"] != "count=1" || len(es) != 2 {
		t.Errorf("errorstats: got %v, want ERR count=4, EXECABORT count=1", es)
	}
	if got := infoField(t, c, "total_error_replies"); got != "5" {
		t.Errorf("total_error_replies: got %s, want 5", got)
	}
	// INFO's default sections have errorstats, not commandstats, as
	// Redis's do; "all" has both.
	def := c.do("INFO").V.(string)
	if !strings.Contains(def, "# Errorstats") || strings.Contains(def, "# Commandstats") {
		t.Errorf("INFO's default sections:\n%s", def)
	}
	if all := c.do("INFO", "all").V.(string); !strings.Contains(all, "\r\ncmdstat_set:") {
		t.Errorf("INFO all has no cmdstat_set:\n%s", all)
	}

	// CONFIG RESETSTAT starts INFO's counts again; the metrics' keep
	// counting from the start.
	c.expect(ok, "CONFIG", "RESETSTAT")
	// A container command's subcommands count apart, as in Redis 7.
	if cs := sectionFields(t, c, "commandstats"); len(cs) != 1 || withoutTime(cs["cmdstat_config|resetstat"]) != "calls=1,rejected_calls=0,failed_calls=0" {
		t.Errorf("commandstats after CONFIG RESETSTAT: got %v, want only cmdstat_config|resetstat", cs)
	}
	if es := sectionFields(t, c, "errorstats"); len(es) != 0 {
		t.Errorf("errorstats after CONFIG RESETSTAT: got %v", es)
	}
	i := slices.IndexFunc(ts.srv.CommandStats(), func(s server.CommandStat) bool { return s.Name == "set" })
	if i < 0 || ts.srv.CommandStats()[i].Calls != 3 {
		t.Errorf("CommandStats after CONFIG RESETSTAT: %+v, want set's 3 calls", ts.srv.CommandStats())
	}
}

// TestCommandstatsNoAuth: a command refused for want of AUTH counts as
// rejected, as in Redis.
func TestCommandstatsNoAuth(t *testing.T) {
	ts := startServer(t, server.Config{RequirePass: "pw"}, nil)
	c := ts.dial(t)
	c.expect("-NOAUTH Authentication required.\r\n", "GET", "a")
	c.expect(ok, "AUTH", "pw")
	if got := withoutTime(sectionFields(t, c, "commandstats")["cmdstat_get"]); got != "calls=0,rejected_calls=1,failed_calls=0" {
		t.Errorf("cmdstat_get: got %q", got)
	}
	if got := sectionFields(t, c, "errorstats")["errorstat_NOAUTH"]; got != "count=1" {
		t.Errorf("errorstat_NOAUTH: got %q", got)
	}
}

// TestCommandLatency checks the histogram's counts against the calls, and
// LATENCY HISTOGRAM's reply.
func TestCommandLatency(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	const n = 200
	for range n {
		c.expect(ok, "SET", "k", "v")
	}
	var set server.CommandStat
	for _, st := range ts.srv.CommandStats() {
		if st.Name == "set" && st.Protocol == "redis" {
			set = st
		}
	}
	var sum int64
	for _, b := range set.Buckets {
		sum += b
	}
	if set.Calls != n || sum != n || set.Time <= 0 {
		t.Fatalf("set: %+v, want %d calls in the buckets and some time", set, n)
	}
	r := c.do("LATENCY", "HISTOGRAM", "set", "nosuch")
	m, isArr := r.V.([]any)
	if !isArr || len(m) != 2 || m[0] != "set" {
		t.Fatalf("LATENCY HISTOGRAM set: got %q", r.Raw)
	}
	h := m[1].([]any)
	if h[0] != "calls" || h[1] != int64(n) || h[2] != "histogram_usec" {
		t.Fatalf("LATENCY HISTOGRAM set: got %q", r.Raw)
	}
	// Bounds are powers of two, counts cumulative, the last all calls.
	pairs := h[3].([]any)
	var prevBound, prevCount int64
	for i := 0; i < len(pairs); i += 2 {
		bound, count := pairs[i].(int64), pairs[i+1].(int64)
		if bound&(bound-1) != 0 || bound <= prevBound || count <= prevCount {
			t.Fatalf("LATENCY HISTOGRAM: bucket %d µs count %d after %d µs %d: %q", bound, count, prevBound, prevCount, r.Raw)
		}
		prevBound, prevCount = bound, count
	}
	if prevCount != n {
		t.Errorf("LATENCY HISTOGRAM: last cumulative count %d, want %d", prevCount, n)
	}
}

func TestSlowlog(t *testing.T) {
	ts := startServer(t, server.Config{SlowlogSlowerThan: time.Nanosecond, SlowlogMaxLen: 4}, nil)
	c := ts.dial(t)
	c.expect(ok, "CLIENT", "SETNAME", "app")
	long := strings.Repeat("x", 200)
	args := []string{"DEL"}
	for range 40 {
		args = append(args, "k")
	}
	c.do(args...)
	c.expect(ok, "SET", "k", long)
	c.expect("-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n", "AUTH", "secret")
	// Each command goes in the log after it ran: SLOWLOG LEN counts the
	// four before it, of which SETNAME then leaves the log.
	c.expect(num(4), "SLOWLOG", "LEN")
	r := c.do("SLOWLOG", "GET")
	entries, isArr := r.V.([]any)
	if !isArr || len(entries) != 4 {
		t.Fatalf("SLOWLOG GET: got %q, want 4 entries", r.Raw)
	}
	// Newest first: SLOWLOG LEN, AUTH (redacted), SET (cut), DEL (32
	// arguments kept).
	auth, set, del := entries[1].([]any), entries[2].([]any), entries[3].([]any)
	if got := auth[3].([]any); len(got) != 2 || got[0] != "AUTH" || got[1] != "(redacted)" {
		t.Errorf("AUTH's entry keeps %q", got)
	}
	if got := set[3].([]any); got[2] != strings.Repeat("x", 128)+"... (72 more bytes)" {
		t.Errorf("SET's long value kept as %q", got[2])
	}
	if got := del[3].([]any); len(got) != 32 || got[31] != "... (10 more arguments)" {
		t.Errorf("DEL's 41 arguments kept as %d: last %q", len(got), got[len(got)-1])
	}
	if set[0].(int64) != del[0].(int64)+1 || set[4] != c.nc.LocalAddr().String() || set[5] != "app" {
		t.Errorf("SET's entry: id %v after %v, client %v %v", set[0], del[0], set[4], set[5])
	}
	if took := set[2].(int64); took < 0 || took > 10_000_000 {
		t.Errorf("SET took %d µs", took)
	}
	c.expect(ok, "SLOWLOG", "RESET")
	c.expect(num(1), "SLOWLOG", "LEN") // RESET itself
	c.expect("-ERR count should be greater than or equal to -1\r\n", "SLOWLOG", "GET", "-2")
}

// TestSlowlogOff: a negative threshold logs nothing; the default, 10 ms,
// logs none of these quick commands.
func TestSlowlogOff(t *testing.T) {
	for _, d := range []time.Duration{-1, 0} {
		ts := startServer(t, server.Config{SlowlogSlowerThan: d}, nil)
		c := ts.dial(t)
		c.expect(ok, "SET", "k", "v")
		c.expect(num(0), "SLOWLOG", "LEN")
	}
}

func TestLatencyMonitor(t *testing.T) {
	ts := startServer(t, server.Config{LatencyMonitorThreshold: time.Nanosecond}, nil)
	c := ts.dial(t)
	c.expect(ok, "SET", "k", "v")
	r := c.do("LATENCY", "LATEST")
	latest, isArr := r.V.([]any)
	if !isArr || len(latest) != 1 {
		t.Fatalf("LATENCY LATEST: got %q, want one event", r.Raw)
	}
	e := latest[0].([]any)
	if e[0] != "command" || len(e) != 4 || e[1].(int64) < time.Now().Unix()-60 {
		t.Errorf("LATENCY LATEST: got %q", r.Raw)
	}
	if h := c.do("LATENCY", "HISTORY", "command").V.([]any); len(h) != 1 {
		t.Errorf("LATENCY HISTORY command: %v, want one sample (one a second)", h)
	}
	c.expect(num(1), "LATENCY", "RESET", "command", "nosuch")
	if doc := c.do("LATENCY", "DOCTOR").V.(string); !strings.Contains(doc, "command") {
		t.Errorf("LATENCY DOCTOR: %q", doc)
	}
}

// TestLatencyMonitorOff: by default nothing is recorded, and DOCTOR says
// how to turn the monitor on.
func TestLatencyMonitorOff(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	c.expect(ok, "SET", "k", "v")
	c.expect("*0\r\n", "LATENCY", "LATEST")
	if doc := c.do("LATENCY", "DOCTOR").V.(string); !strings.Contains(doc, "--latency-monitor-threshold") {
		t.Errorf("LATENCY DOCTOR: %q", doc)
	}
}

// TestMemcacheCommandStats: memcached's commands and errors are counted by
// the same counters, under their own protocol.
func TestMemcacheCommandStats(t *testing.T) {
	ts := startMC(t, server.Config{}, nil)
	m := ts.mc(t)
	m.do("set k 0 0 1\r\nx\r\n", "STORED\r\n")
	m.do("get k\r\n", "VALUE k 0 1\r\nx\r\nEND\r\n")
	m.do("incr k 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
	m.do("bogus\r\n", "ERROR\r\n")
	got := map[string]server.CommandStat{}
	for _, st := range ts.srv.CommandStats() {
		if st.Protocol == "memcache" {
			got[st.Name] = st
		}
	}
	if got["set"].Calls != 1 || got["get"].Calls != 1 || got["incr"].Calls != 1 || got["incr"].Failed != 1 || len(got) != 3 {
		t.Errorf("memcache command stats: %+v", got)
	}
	kinds := map[string]int64{}
	for _, e := range ts.srv.ErrorStats() {
		if e.Protocol == "memcache" {
			kinds[e.Kind] = e.Count
		}
	}
	if kinds["CLIENT_ERROR"] != 1 || kinds["ERROR"] != 1 || len(kinds) != 2 {
		t.Errorf("memcache errors: %v", kinds)
	}
}

// TestCommandTimeLeavesOutSlowReader: a client that reads its replies a
// second late does not make the commands whose replies waited look slow,
// in either serving mode (a mid-reply flush, or the pending write of a
// connection that left its event loop).
func TestCommandTimeLeavesOutSlowReader(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	c.expect(ok, "SET", "big", strings.Repeat("x", 900<<10))
	r := ts.dial(t)
	var b strings.Builder
	for range 8 {
		b.WriteString("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
	}
	b.WriteString("*1\r\n$4\r\nPING\r\n")
	if _, err := r.nc.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	const late = time.Second
	time.Sleep(late)
	for range 8 {
		r.read()
	}
	r.expectRead("+PONG\r\n", "PING")
	for _, st := range ts.srv.CommandStats() {
		if (st.Name == "get" || st.Name == "ping") && st.Time >= late/2 {
			t.Errorf("%s: %v in all, counting the client's wait to read", st.Name, st.Time)
		}
	}
}

// TestCommandstatsOOM: a write refused for maxmemory is a rejected call,
// as Redis counts it (processCommand refuses it before call()).
func TestCommandstatsOOM(t *testing.T) {
	ts := startServer(t, server.Config{}, &sessiond.Options{MaxMemory: 1 << 20})
	c := ts.dial(t)
	v := strings.Repeat("x", 10<<10)
	for i := range 400 {
		c.do("SET", "k"+strconv.Itoa(i), v)
	}
	line := withoutTime(sectionFields(t, c, "commandstats")["cmdstat_set"])
	var calls, rej, failed int
	fmt.Sscanf(line, "calls=%d,rejected_calls=%d,failed_calls=%d", &calls, &rej, &failed)
	if rej == 0 || failed != 0 || calls+rej != 400 {
		t.Errorf("cmdstat_set: %q, want the OOM refusals as rejected_calls", line)
	}
}
