package server_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// The replies below are Redis 7's, byte for byte, checked against
// redis-server while the tests were written.

// step is a command and the exact reply Redis gives it.
type step struct {
	want string
	args []string
}

func s(want string, args ...string) step { return step{want, args} }

func runSteps(t *testing.T, c *client, steps []step) {
	t.Helper()
	for _, st := range steps {
		c.expect(st.want, st.args...)
	}
}

const (
	ok        = "+OK\r\n"
	null      = "$-1\r\n"
	syntaxErr = "-ERR syntax error\r\n"
	notInt    = "-ERR value is not an integer or out of range\r\n"
)

func bulk(v string) string { return "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n" }
func num(n int) string     { return ":" + strconv.Itoa(n) + "\r\n" }

func arity(cmd string) string {
	return "-ERR wrong number of arguments for '" + cmd + "' command\r\n"
}

func badExpire(cmd string) string { return "-ERR invalid expire time in '" + cmd + "' command\r\n" }

// intIn sends a command whose reply is an integer and checks its range.
func intIn(t *testing.T, c *client, lo, hi int64, args ...string) {
	t.Helper()
	r := c.do(args...)
	n, isInt := r.V.(int64)
	if !isInt || n < lo || n > hi {
		t.Errorf("%s: got %q, want an integer in [%d, %d]", fmtArgs(args), r.Raw, lo, hi)
	}
}

func unixIn(d time.Duration) string { return strconv.FormatInt(time.Now().Add(d).Unix(), 10) }
func unixMSIn(d time.Duration) string {
	return strconv.FormatInt(time.Now().Add(d).UnixMilli(), 10)
}

func TestSet(t *testing.T) {
	t.Parallel()
	ts := start(t)

	t.Run("conditions and GET", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(ok, "SET", "s1", "v"),
			s(null, "SET", "s1", "v2", "NX"),
			s(bulk("v"), "GET", "s1"),
			s(null, "SET", "s2", "v", "XX"),
			s(num(0), "EXISTS", "s2"),
			s(ok, "SET", "s1", "v3", "XX"),
			s(bulk("v3"), "SET", "s1", "v4", "GET"),
			s(null, "SET", "s3", "v", "GET"),
			s(bulk("v"), "GET", "s3"),
			s(bulk("v4"), "SET", "s1", "new", "NX", "GET"), // NX GET: old value, nothing written
			s(bulk("v4"), "GET", "s1"),
			s(null, "SET", "s4", "v", "XX", "GET"),
			s(num(0), "EXISTS", "s4"),
			s(bulk("v4"), "SET", "s1", "v5", "XX", "GET"),
			s(bulk("v5"), "GET", "s1"),
			s(ok, "set", "s5", "v", "ex", "100", "nx"), // options in any case
			s(null, "SET", "s5", "v", "NX", "NX"),
			s(ok, "SET", "empty", ""),
			s(bulk(""), "GET", "empty"),
		})
	})

	t.Run("expiry options", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect(ok, "SET", "e1", "v", "EX", "100")
		intIn(t, c, 99, 100, "TTL", "e1")
		c.expect(ok, "SET", "e1", "v", "PX", "100000")
		intIn(t, c, 98000, 100000, "PTTL", "e1")
		c.expect(ok, "SET", "e1", "v", "EXAT", unixIn(200*time.Second))
		intIn(t, c, 198, 200, "TTL", "e1")
		c.expect(ok, "SET", "e1", "v", "PXAT", unixMSIn(300*time.Second))
		intIn(t, c, 298, 300, "TTL", "e1")
		c.expect(ok, "SET", "e1", "v2", "KEEPTTL")
		intIn(t, c, 298, 300, "TTL", "e1")
		c.expect(bulk("v2"), "SET", "e1", "v3", "KEEPTTL", "GET")
		intIn(t, c, 298, 300, "TTL", "e1")
		c.expect(ok, "SET", "e1", "v4") // a plain SET drops the expiry
		c.expect(num(-1), "TTL", "e1")
		c.expect(bulk("v4"), "GET", "e1")
		c.expect(null, "SET", "e1", "v", "EX", "100", "NX")
		c.expect(num(-1), "TTL", "e1")
		c.expect(bulk("v4"), "SET", "e1", "v5", "XX", "EX", "100", "GET")
		intIn(t, c, 99, 100, "TTL", "e1")
		// An absolute time in the past: OK, and the key is gone.
		c.expect(ok, "SET", "e2", "v", "EXAT", "1")
		c.expect(null, "GET", "e2")
		c.expect(ok, "SET", "e1", "v", "PXAT", "1")
		c.expect(null, "GET", "e1")
		c.expect(num(0), "EXISTS", "e1")
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(syntaxErr, "SET", "k", "v", "NX", "XX"),
			s(syntaxErr, "SET", "k", "v", "XX", "NX"),
			s(syntaxErr, "SET", "k", "v", "EX", "10", "PX", "100"),
			s(syntaxErr, "SET", "k", "v", "PX", "100", "EXAT", "10"),
			s(syntaxErr, "SET", "k", "v", "KEEPTTL", "EX", "10"),
			s(syntaxErr, "SET", "k", "v", "EX", "10", "KEEPTTL"),
			s(syntaxErr, "SET", "k", "v", "EX"),
			s(syntaxErr, "SET", "k", "v", "FOO"),
			s(syntaxErr, "SET", "k", "v", "10"),
			s(badExpire("set"), "SET", "k", "v", "EX", "0"),
			s(badExpire("set"), "SET", "k", "v", "EX", "-1"),
			s(badExpire("set"), "SET", "k", "v", "PX", "0"),
			s(badExpire("set"), "SET", "k", "v", "EXAT", "0"),
			s(badExpire("set"), "SET", "k", "v", "PXAT", "-5"),
			s(badExpire("set"), "SET", "k", "v", "EX", "9223372036854775807"),
			s(notInt, "SET", "k", "v", "EX", "abc"),
			s(notInt, "SET", "k", "v", "PX", "1.5"),
			s(notInt, "SET", "k", "v", "EX", " 10"),
			s(arity("set"), "SET", "k"),
			s(arity("set"), "SET"),
			s(num(0), "EXISTS", "k"), // none of the above wrote
		})
	})

	t.Run("SETEX PSETEX SETNX", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect(ok, "SETEX", "x", "100", "v")
		c.expect(bulk("v"), "GET", "x")
		intIn(t, c, 99, 100, "TTL", "x")
		c.expect(ok, "PSETEX", "x", "50000", "w")
		c.expect(bulk("w"), "GET", "x")
		intIn(t, c, 48000, 50000, "PTTL", "x")
		runSteps(t, c, []step{
			s(badExpire("setex"), "SETEX", "x", "0", "v"),
			s(badExpire("setex"), "SETEX", "x", "-1", "v"),
			s(badExpire("psetex"), "PSETEX", "x", "0", "v"),
			s(badExpire("psetex"), "PSETEX", "x", "-5", "v"),
			s(notInt, "SETEX", "x", "abc", "v"),
			s(arity("setex"), "SETEX", "x", "100"),
			s(arity("psetex"), "PSETEX", "x"),
			s(bulk("w"), "GET", "x"),
			s(num(1), "SETNX", "n", "1"),
			s(num(0), "SETNX", "n", "2"),
			s(bulk("1"), "GET", "n"),
			s(num(-1), "TTL", "n"),
			s(arity("setnx"), "SETNX", "n"),
		})
	})

	t.Run("GETDEL", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(null, "GETDEL", "gd"),
			s(ok, "SET", "gd", "v", "EX", "100"),
			s(bulk("v"), "GETDEL", "gd"),
			s(null, "GETDEL", "gd"),
			s(num(0), "EXISTS", "gd"),
			s(num(-2), "TTL", "gd"),
			s(arity("getdel"), "GETDEL"),
			s(arity("getdel"), "GETDEL", "a", "b"),
		})
	})

	t.Run("GETEX", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect(null, "GETEX", "gx")
		c.expect(null, "GETEX", "gx", "EX", "100")
		c.expect(num(0), "EXISTS", "gx")
		c.expect(ok, "SET", "gx", "v")
		c.expect(bulk("v"), "GETEX", "gx")
		c.expect(num(-1), "TTL", "gx")
		c.expect(bulk("v"), "GETEX", "gx", "EX", "100")
		intIn(t, c, 99, 100, "TTL", "gx")
		c.expect(bulk("v"), "GETEX", "gx")
		intIn(t, c, 99, 100, "TTL", "gx") // no option: the expiry stays
		c.expect(bulk("v"), "GETEX", "gx", "PERSIST")
		c.expect(num(-1), "TTL", "gx")
		c.expect(bulk("v"), "GETEX", "gx", "PX", "100000")
		intIn(t, c, 98000, 100000, "PTTL", "gx")
		c.expect(bulk("v"), "GETEX", "gx", "EXAT", unixIn(200*time.Second))
		intIn(t, c, 198, 200, "TTL", "gx")
		c.expect(bulk("v"), "GETEX", "gx", "pxat", unixMSIn(300*time.Second))
		intIn(t, c, 298, 300, "TTL", "gx")
		runSteps(t, c, []step{
			s(syntaxErr, "GETEX", "gx", "FOO"),
			s(syntaxErr, "GETEX", "gx", "EX"),
			s(syntaxErr, "GETEX", "gx", "EX", "10", "PERSIST"),
			s(syntaxErr, "GETEX", "gx", "PERSIST", "EX", "10"),
			s(syntaxErr, "GETEX", "gx", "EX", "10", "PX", "10000"),
			s(badExpire("getex"), "GETEX", "gx", "EX", "0"),
			s(badExpire("getex"), "GETEX", "gx", "PX", "-1"),
			s(notInt, "GETEX", "gx", "EX", "abc"),
			s(arity("getex"), "GETEX"),
		})
		intIn(t, c, 298, 300, "TTL", "gx") // the errors changed nothing
		// A time in the past: the value comes back and the key is gone.
		c.expect(bulk("v"), "GETEX", "gx", "EXAT", "1")
		c.expect(null, "GET", "gx")
	})

	t.Run("MGET MSET", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(ok, "MSET", "m1", "a", "m2", "b"),
			s("*3\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n", "MGET", "m1", "m2", "m3"),
			s("*1\r\n$-1\r\n", "MGET", "m3"),
			s(arity("mset"), "MSET", "m1"),
			s(arity("mset"), "MSET", "m1", "a", "m2"),
			s(arity("mget"), "MGET"),
			s(ok, "MSET", "m1", "x", "m1", "y"),
			s(bulk("y"), "GET", "m1"),
			s(ok, "SET", "m2", "b", "EX", "100"),
			s(ok, "MSET", "m2", "c"),
			s(num(-1), "TTL", "m2"), // MSET drops the expiry, as SET does
		})
	})

	t.Run("DEL UNLINK EXISTS TYPE", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(ok, "MSET", "d1", "a", "d2", "b", "d3", "c"),
			s(num(2), "EXISTS", "d1", "d1"),
			s(num(3), "EXISTS", "d1", "d1", "d2", "nokey"),
			s("+string\r\n", "TYPE", "d1"),
			s("+none\r\n", "TYPE", "nokey"),
			s(num(1), "DEL", "d1", "d1", "nokey"),
			s(num(2), "UNLINK", "d2", "d3", "nokey"),
			s(num(0), "EXISTS", "d1", "d2", "d3"),
			s(num(0), "DEL", "d1"),
			s(arity("del"), "DEL"),
			s(arity("unlink"), "UNLINK"),
			s(arity("exists"), "EXISTS"),
			s(arity("type"), "TYPE"),
		})
	})
}

func TestExpireFamily(t *testing.T) {
	t.Parallel()
	ts := start(t)

	t.Run("set and read", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect(ok, "SET", "e", "v")
		c.expect(num(-1), "TTL", "e")
		c.expect(num(-1), "PTTL", "e")
		c.expect(num(-2), "TTL", "nokey")
		c.expect(num(-2), "PTTL", "nokey")
		c.expect(num(1), "EXPIRE", "e", "100")
		intIn(t, c, 99, 100, "TTL", "e")
		c.expect(num(0), "EXPIRE", "nokey", "100")
		c.expect(num(1), "PEXPIRE", "e", "50000")
		intIn(t, c, 48000, 50000, "PTTL", "e")
		c.expect(num(1), "EXPIREAT", "e", unixIn(200*time.Second))
		intIn(t, c, 198, 200, "TTL", "e")
		c.expect(num(1), "PEXPIREAT", "e", unixMSIn(300*time.Second))
		intIn(t, c, 298, 300, "TTL", "e")
		c.expect(num(1), "PEXPIREAT", "e", "9223372036854775807")
		c.expect(num(0), "PEXPIREAT", "e", "9223372036854775807", "GT") // kept as the latest expiry: not later
		c.expect(num(1), "PERSIST", "e")
		c.expect(num(0), "PERSIST", "e")
		c.expect(num(0), "PERSIST", "nokey")
		c.expect(num(-1), "TTL", "e")
		c.expect(bulk("v"), "GET", "e")
	})

	t.Run("NX XX GT LT", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		runSteps(t, c, []step{
			s(ok, "SET", "kc", "v"),
			s(num(0), "EXPIRE", "kc", "100", "XX"), // no expiry yet
			s(num(0), "EXPIRE", "kc", "100", "GT"), // none counts as infinite
			s(num(0), "EXPIRE", "kc", "100", "XX", "LT"),
			s(num(1), "EXPIRE", "kc", "100", "NX"),
			s(num(0), "EXPIRE", "kc", "100", "NX"),
			s(num(0), "EXPIRE", "kc", "90", "GT"), // not greater (Redis compares milliseconds: 100 again could pass)
			s(num(1), "EXPIRE", "kc", "200", "gt"),
		})
		intIn(t, c, 199, 200, "TTL", "kc")
		runSteps(t, c, []step{
			s(num(0), "EXPIRE", "kc", "300", "LT"),
			s(num(1), "EXPIRE", "kc", "50", "LT"),
			s(num(1), "EXPIRE", "kc", "60", "XX"),
			s(num(0), "EXPIRE", "kc", "30", "XX", "GT"),
			s(num(1), "EXPIRE", "kc", "150", "XX", "GT"),
			s(num(1), "PERSIST", "kc"),
			s(num(1), "EXPIRE", "kc", "100", "LT"), // none counts as infinite
			s(num(1), "PEXPIRE", "kc", "90000", "XX", "LT"),
		})
		intIn(t, c, 88000, 90000, "PTTL", "kc")
	})

	t.Run("option errors", func(t *testing.T) {
		t.Parallel()
		const nxErr = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
		const gtltErr = "-ERR GT and LT options at the same time are not compatible\r\n"
		runSteps(t, ts.dial(t), []step{
			s(ok, "SET", "ko", "v"),
			s(nxErr, "EXPIRE", "ko", "100", "NX", "XX"),
			s(nxErr, "EXPIRE", "ko", "100", "NX", "GT"),
			s(nxErr, "PEXPIRE", "ko", "100", "LT", "NX"),
			s(gtltErr, "EXPIRE", "ko", "100", "GT", "LT"),
			s("-ERR Unsupported option FOO\r\n", "EXPIRE", "ko", "100", "FOO"),
			s("-ERR Unsupported option FOO\r\n", "PEXPIREAT", "ko", "100", "FOO"),
			s(notInt, "EXPIRE", "ko", "abc"),
			s(notInt, "EXPIRE", "ko", "1.5"),
			s(badExpire("expire"), "EXPIRE", "ko", "9223372036854775807"),
			s(badExpire("expire"), "EXPIRE", "ko", "-9223372036854775808"),
			s(badExpire("pexpire"), "PEXPIRE", "ko", "9223372036854775807"),
			s(badExpire("expireat"), "EXPIREAT", "ko", "9223372036854775807"),
			s(arity("expire"), "EXPIRE", "ko"),
			s(arity("pexpireat"), "PEXPIREAT"),
			s(arity("ttl"), "TTL"),
			s(arity("persist"), "PERSIST", "a", "b"),
			s(num(-1), "TTL", "ko"), // nothing above set an expiry
		})
	})

	t.Run("past times delete", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(ok, "SET", "kp", "v"),
			s(num(1), "EXPIRE", "kp", "-1"),
			s(num(0), "EXISTS", "kp"),
			s(num(-2), "TTL", "kp"),
			s(num(-2), "PTTL", "kp"),
			s(ok, "SET", "kp", "v"),
			s(num(1), "PEXPIRE", "kp", "0"),
			s(null, "GET", "kp"),
			s(ok, "SET", "kp", "v"),
			s(num(1), "EXPIREAT", "kp", "1"),
			s(null, "GET", "kp"),
			s(ok, "SET", "kp", "v"),
			s(num(1), "PEXPIREAT", "kp", "1"),
			s(null, "GET", "kp"),
			s(num(0), "EXPIRE", "kp", "-1"), // missing key
			// The conditions hold for deleting times too.
			s(ok, "SET", "kp", "v"),
			s(num(0), "EXPIRE", "kp", "-1", "XX"),
			s(num(1), "EXISTS", "kp"),
			s(ok, "SET", "kp", "v", "EX", "150"),
			s(num(0), "EXPIRE", "kp", "-5", "GT"),
			s(num(1), "EXISTS", "kp"),
			s(num(1), "EXPIRE", "kp", "-5", "LT"),
			s(num(0), "EXISTS", "kp"),
			s(ok, "SET", "kp", "v"),
			s(num(1), "EXPIRE", "kp", "-1", "NX"),
			s(num(0), "EXISTS", "kp"),
		})
	})

	t.Run("expired keys vanish", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.expect(ok, "SET", "short", "v", "PX", "50")
		c.expect(ok, "SETEX", "short2", "1", "v")
		c.expect(num(1), "PEXPIRE", "short2", "60")
		time.Sleep(150 * time.Millisecond)
		runSteps(t, c, []step{
			s(null, "GET", "short"),
			s(num(0), "EXISTS", "short", "short2"),
			s(num(-2), "TTL", "short2"),
			s("+none\r\n", "TYPE", "short"),
			s(null, "GETDEL", "short2"),
			s(num(0), "DEL", "short"),
		})
	})
}

func TestScanKeysDBSizeFlush(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	want := map[string]bool{}
	var batch []byte
	for i := range 1000 {
		k := fmt.Sprintf("scan:%d", i)
		want[k] = true
		batch = append(batch, encode("SET", k, "v")...)
	}
	for i := range 100 {
		batch = append(batch, encode("SET", fmt.Sprintf("other:%d", i), "v", "EX", "1000")...)
	}
	c.write(batch)
	for i := range 1100 {
		if r := c.read(); r.Raw != ok {
			t.Fatalf("SET %d: got %q", i, r.Raw)
		}
	}
	c.expect(num(1100), "DBSIZE")

	// scanAll iterates with SCAN to the end and returns every key seen.
	scanAll := func(opts ...string) (map[string]int, int) {
		t.Helper()
		seen := map[string]int{}
		cursor, calls := "0", 0
		for {
			calls++
			if calls > 5000 {
				t.Fatalf("SCAN %v did not end after 5000 calls", opts)
			}
			r := c.do(append([]string{"SCAN", cursor}, opts...)...)
			l, isList := r.V.([]any)
			if !isList || len(l) != 2 {
				t.Fatalf("SCAN %s: got %q, want [cursor, keys]", cursor, clip([]byte(r.Raw)))
			}
			next, isStr := l[0].(string)
			keys, isKeys := l[1].([]any)
			if !isStr || !isKeys {
				t.Fatalf("SCAN %s: got %q, want a bulk cursor and an array", cursor, clip([]byte(r.Raw)))
			}
			for _, k := range keys {
				seen[fmt.Sprint(k)]++
			}
			if next == "0" {
				return seen, calls
			}
			cursor = next
		}
	}

	seen, calls := scanAll("MATCH", "scan:*", "COUNT", "10")
	for k := range want {
		if seen[k] == 0 {
			t.Errorf("SCAN MATCH scan:* COUNT 10 never returned %s", k)
		}
	}
	for k := range seen {
		if !want[k] {
			t.Errorf("SCAN MATCH scan:* returned %q, which does not match", k)
		}
	}
	t.Logf("SCAN MATCH scan:* COUNT 10: %d calls", calls)
	if all, _ := scanAll("count", "10"); len(all) != 1100 {
		t.Errorf("SCAN COUNT 10 without MATCH saw %d keys, want 1100", len(all))
	}
	if all, _ := scanAll(); len(all) != 1100 {
		t.Errorf("SCAN without options saw %d keys, want 1100", len(all))
	}
	if all, _ := scanAll("TYPE", "string", "COUNT", "100"); len(all) != 1100 {
		t.Errorf("SCAN TYPE string saw %d keys, want 1100", len(all))
	}
	if all, _ := scanAll("TYPE", "hash", "COUNT", "100"); len(all) != 0 {
		t.Errorf("SCAN TYPE hash saw %d keys, want none", len(all))
	}
	if all, _ := scanAll("MATCH", "nomatch*", "COUNT", "1000"); len(all) != 0 {
		t.Errorf("SCAN MATCH nomatch* saw %d keys, want none", len(all))
	}

	runSteps(t, c, []step{
		s("-ERR invalid cursor\r\n", "SCAN", "abc"),
		s("-ERR invalid cursor\r\n", "SCAN", "1.5"),
		s(syntaxErr, "SCAN", "0", "COUNT", "0"),
		s(notInt, "SCAN", "0", "COUNT", "abc"),
		s(syntaxErr, "SCAN", "0", "FOO", "bar"),
		s(syntaxErr, "SCAN", "0", "MATCH"),
		s(arity("scan"), "SCAN"),
	})

	r := c.do("KEYS", "scan:1*")
	if l, isList := r.V.([]any); !isList || len(l) != 111 { // 1, 10-19, 100-199
		t.Errorf("KEYS scan:1*: got %d keys, want 111", len(l))
	}
	if l, _ := c.do("KEYS", "*").V.([]any); len(l) != 1100 {
		t.Errorf("KEYS *: got %d keys, want 1100", len(l))
	}
	runSteps(t, c, []step{
		s("*1\r\n$6\r\nscan:7\r\n", "KEYS", "scan:7"),
		s("*0\r\n", "KEYS", "nomatch*"),
		s("*1\r\n$7\r\nscan:42\r\n", "KEYS", "scan:4[2]"),
		s(arity("keys"), "KEYS"),
		s(arity("dbsize"), "DBSIZE", "x"),
		s(syntaxErr, "FLUSHDB", "FOO"),
		s(num(1100), "DBSIZE"),
		s(ok, "FLUSHDB"),
		s(num(0), "DBSIZE"),
		s("*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0"),
		s(ok, "SET", "a", "1"),
		s(ok, "FLUSHALL", "ASYNC"),
		s(num(0), "DBSIZE"),
		s(ok, "SET", "a", "1"),
		s(ok, "flushall", "sync"),
		s(null, "GET", "a"),
		s(ok, "FLUSHDB", "SYNC"),
	})
}

func TestSelect(t *testing.T) {
	t.Parallel()
	runSteps(t, start(t).dial(t), []step{
		s(ok, "SELECT", "0"),
		s("-ERR DB index is out of range\r\n", "SELECT", "1"),
		s("-ERR DB index is out of range\r\n", "SELECT", "-1"),
		s(notInt, "SELECT", "abc"),
		s(arity("select"), "SELECT"),
	})
}

func TestMultiExec(t *testing.T) {
	t.Parallel()
	ts := start(t)

	t.Run("queue and exec", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(ok, "MULTI"),
			s("+QUEUED\r\n", "SET", "t1", "a"),
			s("+QUEUED\r\n", "GET", "t1"),
			s("+QUEUED\r\n", "PEXPIREAT", "t1", "9999999999999"),
			s("+QUEUED\r\n", "SET", "t1", "v", "EX", "0"), // fails when run, not when queued
			s("*4\r\n+OK\r\n$1\r\na\r\n:1\r\n-ERR invalid expire time in 'set' command\r\n", "EXEC"),
			s(bulk("a"), "GET", "t1"),
			s(ok, "MULTI"),
			s("*0\r\n", "EXEC"),
		})
	})

	t.Run("nested MULTI does not abort", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(ok, "MULTI"),
			s("-ERR MULTI calls can not be nested\r\n", "MULTI"),
			s("+QUEUED\r\n", "SET", "t2", "a"),
			s("*1\r\n+OK\r\n", "EXEC"),
		})
	})

	t.Run("EXECABORT", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s(ok, "SET", "t3", "orig"),
			s(ok, "MULTI"),
			s("+QUEUED\r\n", "SET", "t3", "new"),
			s("-ERR unknown command 'FOO', with args beginning with: \r\n", "FOO"),
			s("+QUEUED\r\n", "GET", "t3"),
			s("-EXECABORT Transaction discarded because of previous errors.\r\n", "EXEC"),
			s(bulk("orig"), "GET", "t3"),
			s(ok, "MULTI"),
			s(arity("get"), "GET"),
			s("-EXECABORT Transaction discarded because of previous errors.\r\n", "EXEC"),
			s("-ERR EXEC without MULTI\r\n", "EXEC"),
		})
	})

	t.Run("DISCARD", func(t *testing.T) {
		t.Parallel()
		runSteps(t, ts.dial(t), []step{
			s("-ERR EXEC without MULTI\r\n", "EXEC"),
			s("-ERR DISCARD without MULTI\r\n", "DISCARD"),
			s(ok, "MULTI"),
			s("+QUEUED\r\n", "SET", "t4", "1"),
			s(ok, "DISCARD"),
			s(null, "GET", "t4"),
			s("-ERR DISCARD without MULTI\r\n", "DISCARD"),
		})
	})

	t.Run("pipelined transaction", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		var b []byte
		b = append(b, encode("MULTI")...)
		for i := range 50 {
			b = append(b, encode("SET", fmt.Sprintf("t5:%d", i), strconv.Itoa(i))...)
		}
		b = append(b, encode("EXEC")...)
		c.write(b)
		c.expectRead(ok, "MULTI")
		for range 50 {
			c.expectRead("+QUEUED\r\n", "SET in MULTI")
		}
		c.expectRead("*50\r\n"+strings.Repeat(ok, 50), "EXEC")
		c.expect(bulk("49"), "GET", "t5:49")
	})

	t.Run("RESP3", func(t *testing.T) {
		t.Parallel()
		c := ts.dial(t)
		c.do("HELLO", "3")
		runSteps(t, c, []step{
			s(ok, "MULTI"),
			s("+QUEUED\r\n", "GET", "t6:none"),
			s("+QUEUED\r\n", "EXISTS", "t6:none"),
			s("*2\r\n_\r\n:0\r\n", "EXEC"),
		})
	})
}

func TestUnknownCommandAndArity(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	x200 := strings.Repeat("x", 200)
	runSteps(t, c, []step{
		s("-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n", "foo", "a", "b"),
		s("-ERR unknown command 'FOO', with args beginning with: \r\n", "FOO"),
		s("-ERR unknown command 'foo', with args beginning with: '"+strings.Repeat("x", 128)+"' \r\n", "foo", x200),
		s("-ERR unknown command 'foo', with args beginning with: 'a' '"+strings.Repeat("x", 124)+"' \r\n", "foo", "a", x200),
		s("-ERR unknown command 'foo', with args beginning with: '"+strings.Repeat("x", 128)+"' \r\n", "foo", x200, "z"),
		s("-ERR unknown command '"+strings.Repeat("f", 128)+"', with args beginning with: 'a' \r\n", strings.Repeat("f", 200), "a"),
		s("-ERR unknown command 'hgetall', with args beginning with: 'k' \r\n", "hgetall", "k"),
		// Line breaks in an echoed argument cannot break the stream.
		s("-ERR unknown command 'foo', with args beginning with: 'a  b' 'c' \r\n", "foo", "a\r\nb", "c"),
		s(arity("get"), "GET"),
		s(arity("get"), "GET", "a", "b"),
		s(arity("get"), "get", "a", "b"),
		s(arity("echo"), "ECHO"),
		s(arity("ping"), "PING", "a", "b"),
		s(arity("time"), "TIME", "x"),
		s(arity("wait"), "WAIT"),
		s(arity("client"), "CLIENT"),
		s(arity("config"), "CONFIG"),
		s("+PONG\r\n", "PING"),
		s(bulk("hi"), "PING", "hi"),
		s(bulk("hi there"), "ECHO", "hi there"),
	})
}

// Inside MULTI, AUTH and HELLO are queued like any other command (only
// EXEC, DISCARD, MULTI, WATCH, QUIT and RESET run at once) and run at EXEC,
// whose array has a reply for each. Checked with redis-server 7.0.15:
// MULTI, AUTH x, HELLO -> +QUEUED, +QUEUED, then EXEC -> *2.
func TestAuthAndHelloQueuedInMulti(t *testing.T) {
	ts := startServer(t, server.Config{RequirePass: "secret"}, nil)
	c := ts.dial(t)
	c.expect(ok, "AUTH", "secret")
	c.expect(ok, "MULTI")
	c.expect("+QUEUED\r\n", "AUTH", "secret")
	c.expect("+QUEUED\r\n", "HELLO", "2")
	c.expect("+QUEUED\r\n", "PING")
	r := c.do("EXEC")
	if a, isArray := r.V.([]any); !isArray || len(a) != 3 {
		t.Errorf("EXEC after 3 queued commands: got %q, want an array of 3 replies", clip([]byte(r.Raw)))
	}
}

// GETEX takes the same option twice, the last one winning, as SET does
// (Redis's parseExtendedStringArgumentsOrReply does not exclude a flag
// already given), but not two different ones. Checked with redis-server
// 7.0.15.
func TestGetExRepeatedOption(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	c.expect(ok, "SET", "k", "v")
	c.expect(bulk("v"), "GETEX", "k", "EX", "10", "EX", "20")
	c.expect(":20\r\n", "TTL", "k")
	c.expect(bulk("v"), "GETEX", "k", "PERSIST", "PERSIST")
	c.expect(":-1\r\n", "TTL", "k")
	c.expect("-ERR syntax error\r\n", "GETEX", "k", "EX", "10", "PX", "20")
	c.expect("-ERR syntax error\r\n", "GETEX", "k", "PERSIST", "EX", "10")
}

// Redis checks every option's syntax before it reads an expiry's value,
// and GETEX reads it only for a key it found (checked with redis-server
// 7.0.15).
func TestExpiryValueReadLast(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	c.expect(ok, "SET", "k", "v", "EX", "abc", "EX", "10")
	c.expect(":10\r\n", "TTL", "k")
	c.expect("-ERR syntax error\r\n", "SET", "k", "v", "EX", "abc", "BAD")
	c.expect("-ERR value is not an integer or out of range\r\n", "SET", "k", "v", "EX", "abc")
	c.expect("$-1\r\n", "GETEX", "nokey", "EX", "0")
	c.expect("-ERR invalid expire time in 'getex' command\r\n", "GETEX", "k", "EX", "0")
	c.expect(":10\r\n", "TTL", "k")
}
