package goclients

import (
	"strings"
	"testing"
)

// operatorChecks cover the commands an operator uses to look at one key,
// each against Redis's reply for the same input (COMPAT_TARGET=redis runs
// them against redis-server).
var operatorChecks = []check{
	{"strlen", checkStrlen},
	{"object", checkObject},
}

func checkStrlen(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	want(t, rdb.Set(ctx, "strlen:k", "hello", 0), "OK")
	want(t, rdb.StrLen(ctx, "strlen:k"), int64(5))
	want(t, rdb.Set(ctx, "strlen:empty", "", 0), "OK")
	want(t, rdb.StrLen(ctx, "strlen:empty"), int64(0))
	want(t, rdb.StrLen(ctx, "strlen:missing"), int64(0))
	want(t, rdb.Set(ctx, "strlen:big", strings.Repeat("x", 70000), 0), "OK")
	want(t, rdb.StrLen(ctx, "strlen:big"), int64(70000))
	wantErr(t, rdb.Do(ctx, "strlen"), "ERR wrong number of arguments for 'strlen' command")
}

// checkObject: OBJECT ENCODING names what Redis would hold a value as (an
// integer in canonical form, a short string, a long one); FREQ is an
// error under every policy that does not count accesses; a missing key is
// a nil reply.
func checkObject(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	values := []struct{ value, encoding string }{
		{"12345", "int"},
		{"0", "int"},
		{"-9223372036854775808", "int"},
		{"9223372036854775808", "embstr"}, // past int64
		{"-0", "embstr"},
		{"012", "embstr"},
		{"+1", "embstr"},
		{" 1", "embstr"},
		{"hello", "embstr"},
		{strings.Repeat("a", 44), "embstr"},
		{strings.Repeat("a", 45), "raw"},
		{strings.Repeat("7", 21), "embstr"}, // too long for an integer
	}
	for i, v := range values {
		k := "object:" + string(rune('a'+i))
		want(t, rdb.Set(ctx, k, v.value, 0), "OK")
		want(t, rdb.ObjectEncoding(ctx, k), v.encoding)
	}
	wantNil(t, rdb.ObjectEncoding(ctx, "object:missing"))
	wantErr(t, rdb.ObjectFreq(ctx, "object:a"), "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "+
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	wantNil(t, rdb.ObjectFreq(ctx, "object:missing"))
	wantErr(t, rdb.Do(ctx, "object", "encoding"), "ERR wrong number of arguments for 'object|encoding' command")
	wantErr(t, rdb.Do(ctx, "object", "foo", "k"), "ERR unknown subcommand 'foo'. Try OBJECT HELP.")
	wantErr(t, rdb.Do(ctx, "object"), "ERR wrong number of arguments for 'object' command")
}
