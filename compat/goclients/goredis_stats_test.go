package goclients

import (
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/testkit"
)

// statsChecks cover the counts INFO commandstats and errorstats give and
// LATENCY HISTOGRAM's reply, against Redis's for the same commands
// (COMPAT_TARGET=redis runs them against redis-server).
var statsChecks = []check{
	{"commandstats", checkCommandstats},
	{"latency-histogram", checkLatencyHistogram},
}

// checkCommandstats runs calls, a call that fails (a bad EX), refusals
// (arity, also inside MULTI), an unknown command, a MULTI that EXEC
// aborts and one that runs, on one connection after CONFIG RESETSTAT, and
// compares the counts with Redis 7's.
func checkCommandstats(t *testing.T, e env) {
	ctx := e.ctx
	conn := e.rdb.Conn()
	defer conn.Close()
	ok(t, conn.Ping(ctx))
	ok(t, conn.ConfigResetStat(ctx))
	for _, args := range [][]any{
		{"set", "cs:a", "b"}, {"get", "cs:a"}, {"get"}, {"set", "cs:a", "b", "ex", "x"}, {"foo"},
		{"multi"}, {"set", "cs:a", "c"}, {"get", "cs:a", "b"}, {"exec"},
		{"multi"}, {"set", "cs:a", "c"}, {"exec"},
		{"del", "cs:a"},
	} {
		conn.Do(ctx, args...) // errors are what is counted
	}
	stats := testkit.InfoFields(ok(t, conn.Info(ctx, "commandstats")).Val())
	for name, want := range map[string]string{
		"cmdstat_set":   "calls=3,rejected_calls=0,failed_calls=1",
		"cmdstat_get":   "calls=1,rejected_calls=2,failed_calls=0",
		"cmdstat_multi": "calls=2,rejected_calls=0,failed_calls=0",
		"cmdstat_exec":  "calls=2,rejected_calls=0,failed_calls=1",
		"cmdstat_del":   "calls=1,rejected_calls=0,failed_calls=0",
		// A container command's subcommands count apart.
		"cmdstat_config|resetstat": "calls=1,rejected_calls=0,failed_calls=0",
	} {
		if got := withoutUsec(stats[name]); got != want {
			t.Errorf("%s: %q, want %q (times aside)", name, stats[name], want)
		}
	}
	errs := testkit.InfoFields(ok(t, conn.Info(ctx, "errorstats")).Val())
	if errs["errorstat_ERR"] != "count=4" || errs["errorstat_EXECABORT"] != "count=1" {
		t.Errorf("errorstats: %v, want ERR count=4 and EXECABORT count=1", errs)
	}
	if got := testkit.InfoFields(ok(t, conn.Info(ctx, "stats")).Val())["total_error_replies"]; got != "5" {
		t.Errorf("total_error_replies: %q, want 5", got)
	}
}

// checkLatencyHistogram: LATENCY HISTOGRAM set, after 50 SETs, answers
// set's calls and a cumulative histogram that go-redis reads in either
// protocol.
func checkLatencyHistogram(t *testing.T, e env) {
	ctx := e.ctx
	ok(t, e.rdb.ConfigResetStat(ctx))
	for range 50 {
		ok(t, e.rdb.Set(ctx, "lh:k", "v", 0))
	}
	v := ok(t, e.rdb.Do(ctx, "latency", "histogram", "set")).Val()
	set := entry(t, v, "set")
	if calls := entry(t, set, "calls"); calls != int64(50) {
		t.Errorf("LATENCY HISTOGRAM set: calls %v, want 50 (%v)", calls, v)
	}
	hist := mapPairs(t, entry(t, set, "histogram_usec"))
	var last int64
	for i := 0; i < len(hist); i += 2 {
		last = hist[i+1].(int64)
	}
	if last != 50 {
		t.Errorf("LATENCY HISTOGRAM set: cumulative count %d at its last bucket, want 50 (%v)", last, hist)
	}
}

// entry returns the value of key in a map reply, which go-redis reads as
// a map (RESP3) or a flat array of pairs (RESP2).
func entry(t *testing.T, reply any, key string) any {
	t.Helper()
	p := mapPairs(t, reply)
	for i := 0; i+1 < len(p); i += 2 {
		if p[i] == key {
			return p[i+1]
		}
	}
	t.Fatalf("no %q in %v", key, reply)
	return nil
}

// mapPairs returns a map reply as a flat list of keys and values.
func mapPairs(t *testing.T, reply any) []any {
	t.Helper()
	switch r := reply.(type) {
	case []any:
		return r
	case map[any]any:
		var out []any
		for k, v := range r {
			out = append(out, k, v)
		}
		// Keys that are numbers (histogram bounds) come in order.
		for i := 2; i < len(out); i += 2 {
			for j := i; j >= 2; j -= 2 {
				a, aok := out[j-2].(int64)
				b, bok := out[j].(int64)
				if !aok || !bok || a <= b {
					break
				}
				out[j-2], out[j-1], out[j], out[j+1] = out[j], out[j+1], out[j-2], out[j-1]
			}
		}
		return out
	}
	t.Fatalf("want a map reply, got %T %v", reply, reply)
	return nil
}

// withoutUsec drops the time fields of a cmdstat line.
func withoutUsec(v string) string {
	var keep []string
	for _, kv := range strings.Split(v, ",") {
		if !strings.HasPrefix(kv, "usec") {
			keep = append(keep, kv)
		}
	}
	return strings.Join(keep, ",")
}
