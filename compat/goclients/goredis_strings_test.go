package goclients

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// stringChecks cover reading and writing values, the commands every
// session store is built from.
var stringChecks = []check{
	{"set-get", checkSetGet},
	{"set-options", checkSetOptions},
	{"setnx-setex", checkSetNXSetEX},
	{"getdel", checkGetDel},
	{"getex", checkGetEx},
	{"mset-mget", checkMSetMGet},
	{"del-unlink-exists", checkDelUnlinkExists},
	{"type", checkType},
}

// checkSetGet round-trips values that a text-minded server could mangle:
// empty, binary with CR LF and NUL (scs stores gob), and large.
func checkSetGet(t *testing.T, e env) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	values := []struct{ name, value string }{
		{"plain", "v1"},
		{"empty", ""},
		{"binary", "\r\n" + string(binary) + "\r\n"},
		{"large", strings.Repeat("0123456789abcdef", 32<<10)},
	}
	for _, v := range values {
		k := "setget:" + v.name
		want(t, e.rdb.Set(e.ctx, k, v.value, 0), "OK")
		if got := ok(t, e.rdb.Get(e.ctx, k)).Val(); got != v.value {
			t.Errorf("GET %s: %d bytes back, want the %d bytes set", k, len(got), len(v.value))
		}
	}
	wantNil(t, e.rdb.Get(e.ctx, "setget:missing"))
	// SET replaces the value and drops any TTL.
	want(t, e.rdb.Set(e.ctx, "setget:plain", "v2", time.Minute), "OK")
	want(t, e.rdb.Set(e.ctx, "setget:plain", "v3", 0), "OK")
	want(t, e.rdb.Get(e.ctx, "setget:plain"), "v3")
	want(t, e.rdb.TTL(e.ctx, "setget:plain"), time.Duration(-1))
}

// checkSetOptions covers SET's options the way go-redis sends them.
func checkSetOptions(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	const k = "setopt"

	// NX writes only a missing key; a refused SET is a nil reply.
	want(t, rdb.SetArgs(ctx, k, "a", redis.SetArgs{Mode: "NX"}), "OK")
	wantNil(t, rdb.SetArgs(ctx, k, "b", redis.SetArgs{Mode: "NX"}))
	want(t, rdb.Get(ctx, k), "a")

	// XX writes only an existing key.
	wantNil(t, rdb.SetArgs(ctx, k+":missing", "b", redis.SetArgs{Mode: "XX"}))
	want(t, rdb.Exists(ctx, k+":missing"), int64(0))
	want(t, rdb.SetArgs(ctx, k, "b", redis.SetArgs{Mode: "XX"}), "OK")
	want(t, rdb.Get(ctx, k), "b")

	// EX in whole seconds, PX for anything finer.
	want(t, rdb.Set(ctx, k, "c", 100*time.Second), "OK")
	wantTTL(t, rdb.TTL(ctx, k), 98*time.Second, 100*time.Second)
	want(t, rdb.Set(ctx, k, "c", 1500*time.Millisecond), "OK")
	wantTTL(t, rdb.PTTL(ctx, k), 500*time.Millisecond, 1500*time.Millisecond)

	// EXAT for a whole-second deadline, PXAT for a finer one.
	at := time.Unix(time.Now().Unix()+100, 0)
	want(t, rdb.SetArgs(ctx, k, "d", redis.SetArgs{ExpireAt: at}), "OK")
	wantTTL(t, rdb.TTL(ctx, k), 97*time.Second, 100*time.Second)
	atMs := time.Now().Add(50*time.Second + 123*time.Millisecond)
	want(t, rdb.SetArgs(ctx, k, "d", redis.SetArgs{ExpireAt: atMs}), "OK")
	wantTTL(t, rdb.PTTL(ctx, k), 48*time.Second, 51*time.Second)

	// KEEPTTL keeps the deadline a plain SET would drop.
	want(t, rdb.Set(ctx, k, "e", 100*time.Second), "OK")
	want(t, rdb.SetArgs(ctx, k, "f", redis.SetArgs{KeepTTL: true}), "OK")
	wantTTL(t, rdb.TTL(ctx, k), 98*time.Second, 100*time.Second)
	want(t, rdb.Set(ctx, k, "g", redis.KeepTTL), "OK")
	wantTTL(t, rdb.TTL(ctx, k), 98*time.Second, 100*time.Second)
	want(t, rdb.Get(ctx, k), "g")

	// GET returns the old value, or nil for a missing key, and still sets.
	want(t, rdb.SetArgs(ctx, k, "h", redis.SetArgs{Get: true}), "g")
	want(t, rdb.Get(ctx, k), "h")
	wantNil(t, rdb.SetArgs(ctx, k+":new", "i", redis.SetArgs{Get: true}))
	want(t, rdb.Get(ctx, k+":new"), "i")
	want(t, rdb.SetArgs(ctx, k, "j", redis.SetArgs{Get: true, TTL: 100 * time.Second}), "h")
	wantTTL(t, rdb.TTL(ctx, k), 98*time.Second, 100*time.Second)

	// XX with GET, as a compare-less swap.
	want(t, rdb.SetArgs(ctx, k, "k", redis.SetArgs{Mode: "XX", Get: true}), "j")
}

func checkSetNXSetEX(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	want(t, rdb.SetNX(ctx, "setnx", "a", 0), true)
	want(t, rdb.SetNX(ctx, "setnx", "b", 0), false)
	want(t, rdb.Get(ctx, "setnx"), "a")
	want(t, rdb.TTL(ctx, "setnx"), time.Duration(-1))
	// SetNX with a TTL is SET NX EX, not SETNX.
	want(t, rdb.SetNX(ctx, "setnx:ttl", "a", 100*time.Second), true)
	wantTTL(t, rdb.TTL(ctx, "setnx:ttl"), 98*time.Second, 100*time.Second)

	// SETEX (koa-redis, gorilla redistore) and PSETEX.
	//lint:ignore SA1019 deprecated in go-redis, but SETEX is what those stores send.
	want(t, rdb.SetEx(ctx, "setex", "v", 100*time.Second), "OK")
	want(t, rdb.Get(ctx, "setex"), "v")
	wantTTL(t, rdb.TTL(ctx, "setex"), 98*time.Second, 100*time.Second)
	want(t, rdb.Do(ctx, "psetex", "psetex", 1500, "v"), any("OK"))
	wantTTL(t, rdb.PTTL(ctx, "psetex"), 500*time.Millisecond, 1500*time.Millisecond)
}

func checkGetDel(t *testing.T, e env) {
	want(t, e.rdb.Set(e.ctx, "getdel", "v", time.Minute), "OK")
	want(t, e.rdb.GetDel(e.ctx, "getdel"), "v")
	want(t, e.rdb.Exists(e.ctx, "getdel"), int64(0))
	wantNil(t, e.rdb.GetDel(e.ctx, "getdel"))
}

func checkGetEx(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	const k = "getex"
	want(t, rdb.Set(ctx, k, "v", 0), "OK")
	want(t, rdb.GetEx(ctx, k, 100*time.Second), "v")
	wantTTL(t, rdb.TTL(ctx, k), 98*time.Second, 100*time.Second)
	want(t, rdb.GetEx(ctx, k, 1500*time.Millisecond), "v")
	wantTTL(t, rdb.PTTL(ctx, k), 500*time.Millisecond, 1500*time.Millisecond)
	// A negative duration sends plain GETEX, which leaves the TTL alone.
	want(t, rdb.GetEx(ctx, k, -1), "v")
	wantTTL(t, rdb.PTTL(ctx, k), 500*time.Millisecond, 1500*time.Millisecond)
	// Zero sends PERSIST.
	want(t, rdb.GetEx(ctx, k, 0), "v")
	want(t, rdb.TTL(ctx, k), time.Duration(-1))
	want(t, rdb.Do(ctx, "getex", k, "exat", time.Now().Unix()+100), any("v"))
	wantTTL(t, rdb.TTL(ctx, k), 97*time.Second, 100*time.Second)
	want(t, rdb.Do(ctx, "getex", k, "pxat", time.Now().UnixMilli()+50_000), any("v"))
	wantTTL(t, rdb.PTTL(ctx, k), 48*time.Second, 50*time.Second)
	wantNil(t, rdb.GetEx(ctx, k+":missing", time.Minute))
	want(t, rdb.Exists(ctx, k+":missing"), int64(0))
}

func checkMSetMGet(t *testing.T, e env) {
	want(t, e.rdb.MSet(e.ctx, "mset:a", "1", "mset:b", "2", "mset:c", ""), "OK")
	got := ok(t, e.rdb.MGet(e.ctx, "mset:a", "mset:missing", "mset:b", "mset:c", "mset:a")).Val()
	// A missing key is a nil element, an empty value an empty string.
	wantVals := []any{"1", nil, "2", "", "1"}
	if !reflect.DeepEqual(got, wantVals) {
		t.Errorf("MGET = %#v, want %#v", got, wantVals)
	}
	// MSET overwrites and drops TTLs, like SET.
	want(t, e.rdb.Expire(e.ctx, "mset:a", time.Minute), true)
	want(t, e.rdb.MSet(e.ctx, map[string]any{"mset:a": "10"}), "OK")
	want(t, e.rdb.Get(e.ctx, "mset:a"), "10")
	want(t, e.rdb.TTL(e.ctx, "mset:a"), time.Duration(-1))
}

func checkDelUnlinkExists(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	want(t, rdb.MSet(ctx, "del:a", "1", "del:b", "2", "del:c", "3", "del:d", "4"), "OK")
	// EXISTS counts a key once per time it is named.
	want(t, rdb.Exists(ctx, "del:a", "del:a", "del:missing", "del:b"), int64(3))
	want(t, rdb.Del(ctx, "del:a", "del:missing"), int64(1))
	want(t, rdb.Del(ctx, "del:a"), int64(0))
	// A key named twice is deleted once.
	want(t, rdb.Del(ctx, "del:b", "del:b"), int64(1))
	want(t, rdb.Unlink(ctx, "del:c", "del:d", "del:missing"), int64(2))
	want(t, rdb.Exists(ctx, "del:a", "del:b", "del:c", "del:d"), int64(0))
}

func checkType(t *testing.T, e env) {
	want(t, e.rdb.Set(e.ctx, "type", "v", 0), "OK")
	want(t, e.rdb.Type(e.ctx, "type"), "string")
	want(t, e.rdb.Type(e.ctx, "type:missing"), "none")
}
