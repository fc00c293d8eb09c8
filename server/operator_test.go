package server_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/server"
)

// Tests of the operator's commands about keys and memory: STRLEN, OBJECT,
// MEMORY, and INFO's memory and keyspace figures.

func TestStrlen(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	runSteps(t, c, []step{
		s(num(0), "STRLEN", "strlen:missing"),
		s(ok, "SET", "strlen:k", "hello"),
		s(num(5), "STRLEN", "strlen:k"),
		s(ok, "SET", "strlen:empty", ""),
		s(num(0), "STRLEN", "strlen:empty"),
		s(ok, "SET", "strlen:big", strings.Repeat("x", 70000)),
		s(num(70000), "STRLEN", "strlen:big"),
		s(ok, "PSETEX", "strlen:brief", "1", "xyz"),
		s(arity("strlen"), "STRLEN"),
		s(arity("strlen"), "STRLEN", "a", "b"),
	})
	time.Sleep(5 * time.Millisecond)
	c.expect(num(0), "STRLEN", "strlen:brief")
}

func TestObject(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	noLFU := "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
	runSteps(t, c, []step{
		s(ok, "SET", "object:int", "12345"),
		s(ok, "SET", "object:short", "hello"),
		s(ok, "SET", "object:long", strings.Repeat("a", 45)),
		s(bulk("int"), "OBJECT", "ENCODING", "object:int"),
		s(bulk("embstr"), "OBJECT", "encoding", "object:short"),
		s(bulk("raw"), "OBJECT", "ENCODING", "object:long"),
		s(null, "OBJECT", "ENCODING", "object:missing"),
		s(num(1), "OBJECT", "REFCOUNT", "object:short"),
		s(null, "OBJECT", "REFCOUNT", "object:missing"),
		s(noLFU, "OBJECT", "FREQ", "object:short"),
		s(null, "OBJECT", "FREQ", "object:missing"),
		s("-ERR sessiond keeps no time of last access: idle time not tracked. TTL shows how long a session has left.\r\n", "OBJECT", "IDLETIME", "object:short"),
		s(null, "OBJECT", "IDLETIME", "object:missing"),
		s("-ERR wrong number of arguments for 'object|idletime' command\r\n", "OBJECT", "IDLETIME"),
		s("-ERR wrong number of arguments for 'object|refcount' command\r\n", "OBJECT", "REFCOUNT", "a", "b"),
		s("-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n", "OBJECT", "foo", "k"),
		s(arity("object"), "OBJECT"),
	})
	if r := c.do("OBJECT", "HELP"); len(anyList(r.V)) != 11 {
		t.Errorf("OBJECT HELP: got %q, want 11 lines", r.Raw)
	}
}

// TestMemoryUsage: a key's usage grows with its value, counts at least its
// record's bytes, and is nil for a missing or expired key; SAMPLES is
// checked as Redis checks it.
func TestMemoryUsage(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	var last int64
	for _, size := range []int{0, 100, 1000, 10000, 100000} {
		k := "mem:" + strconv.Itoa(size)
		c.expect(ok, "SET", k, strings.Repeat("v", size))
		n, isInt := c.do("MEMORY", "USAGE", k).V.(int64)
		// 25 bytes of header: the record layout (layout.go).
		if min := int64(25 + len(k) + size); !isInt || n < min || n <= last {
			t.Errorf("MEMORY USAGE of a %d-byte value: %d, want an integer of at least %d, more than the smaller value's %d", size, n, min, last)
		}
		last = n
		c.expect(num(int(n)), "MEMORY", "USAGE", k, "SAMPLES", "0")
		c.expect(num(int(n)), "memory", "usage", k, "samples", "5", "SAMPLES", "100")
	}
	runSteps(t, c, []step{
		s(null, "MEMORY", "USAGE", "mem:missing"),
		s(ok, "PSETEX", "mem:brief", "1", "x"),
		s(syntaxErr, "MEMORY", "USAGE", "mem:0", "SAMPLES"),
		s(syntaxErr, "MEMORY", "USAGE", "mem:0", "SAMPLES", "-1"),
		s(notInt, "MEMORY", "USAGE", "mem:0", "SAMPLES", "x"),
		s(syntaxErr, "MEMORY", "USAGE", "mem:0", "FOO", "1"),
		s("-ERR wrong number of arguments for 'memory|usage' command\r\n", "MEMORY", "USAGE"),
		s("-ERR unknown subcommand 'FOO'. Try MEMORY HELP.\r\n", "MEMORY", "FOO"),
		s(arity("memory"), "MEMORY"),
		s(ok, "MEMORY", "PURGE"),
		s(bulk("Stats not supported for the current allocator"), "MEMORY", "MALLOC-STATS"),
	})
	time.Sleep(5 * time.Millisecond)
	c.expect(null, "MEMORY", "USAGE", "mem:brief")
}

// TestMemoryStatsAndInfo: MEMORY STATS, INFO memory and INFO keyspace
// agree with one another and with maxmemory, which caps used_memory.
func TestMemoryStatsAndInfo(t *testing.T) {
	t.Parallel()
	const maxmemory = 4 << 20
	ts := startServer(t, server.Config{}, &sessiond.Options{MaxMemory: maxmemory, Policy: sessiond.AllKeysLRU, Shards: 4})
	c := ts.dial(t)
	value := strings.Repeat("s", 2000)
	for i := range 4000 { // 8 MB of sessions: twice the cap, so eviction runs
		c.send("SET", "sess:"+strconv.Itoa(i), value, "EX", strconv.Itoa(1000+i%2*1000))
	}
	for range 4000 {
		if r := c.read(); r.Raw != ok {
			t.Fatalf("SET: %q", r.Raw)
		}
	}
	stats, isList := c.do("MEMORY", "STATS").V.([]any)
	if !isList {
		t.Fatalf("MEMORY STATS: not a map in RESP2")
	}
	m := pairs(stats)
	used, _ := strconv.ParseInt(infoField(t, c, "used_memory"), 10, 64)
	if used <= 0 || used > maxmemory {
		t.Errorf("INFO used_memory %d: want in (0, maxmemory %d]", used, maxmemory)
	}
	if got, _ := strconv.ParseInt(infoField(t, c, "maxmemory"), 10, 64); got != maxmemory {
		t.Errorf("INFO maxmemory %d, want %d", got, maxmemory)
	}
	if a, _ := m["total.allocated"].(int64); a < used*9/10 || a > used*11/10 {
		t.Errorf("MEMORY STATS total.allocated %v, want INFO used_memory %d (within what a write between the two changes)", m["total.allocated"], used)
	}
	if evicted, _ := strconv.Atoi(infoField(t, c, "evicted_keys")); evicted == 0 {
		t.Errorf("INFO evicted_keys 0 after writing twice maxmemory")
	}
	ks := infoField(t, c, "db0")
	f := regexp.MustCompile(`^keys=(\d+),expires=(\d+),avg_ttl=(\d+)$`).FindStringSubmatch(ks)
	if f == nil {
		t.Fatalf("INFO db0 %q: want keys=N,expires=N,avg_ttl=N", ks)
	}
	keys, _ := strconv.Atoi(f[1])
	if keys != int(m["keys.count"].(int64)) || f[1] != f[2] {
		t.Errorf("INFO db0 %q: keys and expires should both be MEMORY STATS keys.count %v", ks, m["keys.count"])
	}
	// Half the keys live 1000 s, half 2000: the average is about 1500 s.
	if avg, _ := strconv.ParseInt(f[3], 10, 64); avg < 1200_000 || avg > 1800_000 {
		t.Errorf("INFO avg_ttl %d ms, want about 1,500,000", avg)
	}
	c.expect(ok, "FLUSHALL")
	if r := c.do("INFO", "keyspace"); strings.Contains(r.Raw, "db0") {
		t.Errorf("INFO keyspace after FLUSHALL: %q, want no db0 line", r.Raw)
	}
}

// TestConfigGetPatterns: CONFIG GET takes several glob patterns (Redis 7),
// in any case, and names each matching setting once; * is every setting.
func TestConfigGetPatterns(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Settings: map[string]string{"event-loops": "1", "tombstone-ttl": "24h"}},
		&sessiond.Options{MaxMemory: 1 << 30, Policy: sessiond.AllKeysLRU})
	c := ts.dial(t)
	names := func(args ...string) []string {
		t.Helper()
		l := anyList(c.do(append([]string{"CONFIG", "GET"}, args...)...).V)
		var n []string
		for i := 0; i+1 < len(l); i += 2 {
			n = append(n, l[i].(string))
		}
		return n
	}
	all := names("*")
	seen := map[string]bool{}
	for _, n := range all {
		if seen[n] {
			t.Errorf("CONFIG GET *: %s twice", n)
		}
		seen[n] = true
	}
	for _, want := range []string{"maxmemory", "maxmemory-policy", "maxclients", "timeout", "save", "appendonly", "dir", "port", "bind", "databases", "event-loops", "tombstone-ttl"} {
		if !seen[want] {
			t.Errorf("CONFIG GET * lacks %s: %v", want, all)
		}
	}
	cases := []struct {
		patterns []string
		want     string
	}{
		{[]string{"maxmemory*", "MAXMEMORY", "*-policy"}, "maxmemory maxmemory-policy"},
		{[]string{"max?emory", "databas[a-z]s"}, "databases maxmemory"},
		{[]string{"event-loops", "tombstone-*", "nosuch"}, "event-loops tombstone-ttl"},
		{[]string{"nosuch*"}, ""},
	}
	for _, tc := range cases {
		got := names(tc.patterns...)
		slices.Sort(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("CONFIG GET %q: names %q, want %q", tc.patterns, got, tc.want)
		}
	}
	c.expect("-ERR wrong number of arguments for 'config|get' command\r\n", "CONFIG", "GET")
}

// statsOf returns INFO stats' counters that Redis and sessiond count alike.
func statsOf(t *testing.T, c *client) (hits, misses, commands int) {
	t.Helper()
	// Read in one INFO: each INFO would count the one before it.
	text := verbatimText(c.do("INFO", "stats"))
	fields := map[string]int{}
	for _, l := range strings.Split(text, "\r\n") {
		if k, v, found := strings.Cut(l, ":"); found {
			n, _ := strconv.Atoi(v)
			fields[k] = n
		}
	}
	return fields["keyspace_hits"], fields["keyspace_misses"], fields["total_commands_processed"]
}

// TestKeyspaceStats: keyspace_hits and keyspace_misses count what Redis
// counts (every command that reads a key, not writes, not MEMORY USAGE),
// and total_commands_processed counts the commands that ran: not INFO
// itself, not a command refused or only queued. The counts were read from
// redis-server 7 for the same commands.
func TestKeyspaceStats(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	c.expect(ok, "SET", "k", "v")
	cases := []struct {
		args         []string
		hits, misses int
	}{
		{[]string{"GET", "k"}, 1, 0},
		{[]string{"GET", "nokey"}, 0, 1},
		{[]string{"MGET", "k", "nokey"}, 1, 1},
		{[]string{"STRLEN", "k"}, 1, 0},
		{[]string{"STRLEN", "nokey"}, 0, 1},
		{[]string{"EXISTS", "k", "nokey", "k"}, 2, 1},
		{[]string{"TYPE", "k"}, 1, 0},
		{[]string{"TYPE", "nokey"}, 0, 1},
		{[]string{"TTL", "k"}, 1, 0},
		{[]string{"PTTL", "nokey"}, 0, 1},
		{[]string{"OBJECT", "ENCODING", "k"}, 1, 0},
		{[]string{"OBJECT", "REFCOUNT", "nokey"}, 0, 1},
		{[]string{"GETDEL", "nokey"}, 0, 1},
		{[]string{"GETEX", "nokey"}, 0, 1},
		{[]string{"SET", "k", "v", "GET"}, 1, 0},
		{[]string{"MEMORY", "USAGE", "k"}, 0, 0},
		{[]string{"EXPIRE", "nokey", "10"}, 0, 0},
		{[]string{"PERSIST", "k"}, 0, 0},
		{[]string{"SETNX", "k", "v"}, 0, 0},
		{[]string{"DEL", "nokey"}, 0, 0},
		{[]string{"SCAN", "0"}, 0, 0},
	}
	for _, tc := range cases {
		c.expect(ok, "CONFIG", "RESETSTAT")
		c.do(tc.args...)
		hits, misses, commands := statsOf(t, c)
		if hits != tc.hits || misses != tc.misses || commands != 2 {
			t.Errorf("%q: hits %d, misses %d, commands %d; want %d, %d, 2 (RESETSTAT and the command)", tc.args, hits, misses, commands, tc.hits, tc.misses)
		}
	}
	for _, refused := range [][]string{{"OBJECT", "foo", "k"}, {"OBJECT", "ENCODING"}, {"MEMORY", "USAGE"}, {"CLIENT", "KILL"}, {"CONFIG", "GET"}, {"COMMAND", "COUNT", "x"}} {
		c.expect(ok, "CONFIG", "RESETSTAT")
		c.do(refused...)
		if _, _, commands := statsOf(t, c); commands != 1 {
			t.Errorf("%q: commands %d, want 1 (RESETSTAT): a refused subcommand does not run", refused, commands)
		}
	}
	c.expect(ok, "CONFIG", "RESETSTAT")
	c.send("MULTI")
	c.send("SET", "a", "1")
	c.send("GET", "a")
	c.send("EXEC")
	c.send("NOSUCH")
	c.send("GET")
	for range 6 {
		c.read()
	}
	if hits, _, commands := statsOf(t, c); hits != 1 || commands != 5 {
		t.Errorf("MULTI, SET, GET, EXEC, an unknown command and a wrong arity: hits %d, commands %d; want 1 and 5 (RESETSTAT, MULTI, SET, GET, EXEC)", hits, commands)
	}
}

// TestResetStatExpired: CONFIG RESETSTAT zeroes expired_keys, as in Redis,
// which then counts on.
func TestResetStatExpired(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	c.expect(ok, "PSETEX", "brief", "1", "x")
	time.Sleep(5 * time.Millisecond)
	c.expect(null, "GET", "brief")
	if n := infoField(t, c, "expired_keys"); n != "1" {
		t.Errorf("expired_keys %s after a key expired, want 1", n)
	}
	c.expect(ok, "CONFIG", "RESETSTAT")
	if n := infoField(t, c, "expired_keys"); n != "0" {
		t.Errorf("expired_keys %s after CONFIG RESETSTAT, want 0", n)
	}
	c.expect(ok, "PSETEX", "brief", "1", "x")
	time.Sleep(5 * time.Millisecond)
	c.expect(null, "GET", "brief")
	if n := infoField(t, c, "expired_keys"); n != "1" {
		t.Errorf("expired_keys %s after another key expired, want 1", n)
	}
}
