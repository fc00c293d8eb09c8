package goclients

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// operatorChecks cover the commands an operator uses to look at one key,
// each against Redis's reply for the same input (COMPAT_TARGET=redis runs
// them against redis-server).
var operatorChecks = []check{
	{"strlen", checkStrlen},
	{"object", checkObject},
	{"client-list", checkClientList},
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

// text returns a reply that is text (a bulk or verbatim string).
func text(t *testing.T, cmd *redis.Cmd) string {
	t.Helper()
	s, err := cmd.Text()
	if err != nil {
		t.Fatalf("%s: %v", show(cmd), err)
	}
	return s
}

// listedIDs returns the id= of each line of a CLIENT LIST reply.
func listedIDs(t *testing.T, list string) []int64 {
	t.Helper()
	var ids []int64
	for _, m := range regexp.MustCompile(`(?m)^id=(\d+) `).FindAllStringSubmatch(list, -1) {
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// checkClientList: CLIENT LIST lists connections by id, TYPE filters them
// (every client is normal), ID lists the ids asked for in their order, and
// the wrong forms get Redis's errors.
func checkClientList(t *testing.T, e env) {
	ctx := e.ctx
	var mine []int64
	for range 3 {
		c := newClient(t, e.rdb.Options())
		mine = append(mine, ok(t, c.ClientID(ctx)).Val())
	}
	all := listedIDs(t, ok(t, e.rdb.ClientList(ctx)).Val())
	if !slices.IsSorted(all) {
		t.Errorf("CLIENT LIST ids %v: not in order", all)
	}
	for _, id := range mine {
		if !slices.Contains(all, id) {
			t.Errorf("CLIENT LIST ids %v: want %d among them", all, id)
		}
	}
	asked := []any{"client", "list", "id", mine[2], mine[0], int64(1) << 40}
	if got := listedIDs(t, text(t, e.rdb.Do(ctx, asked...))); !slices.Equal(got, []int64{mine[2], mine[0]}) {
		t.Errorf("CLIENT LIST ID %d %d (and one unknown): ids %v, want those two in that order", mine[2], mine[0], got)
	}
	normal := listedIDs(t, text(t, e.rdb.Do(ctx, "client", "list", "type", "normal")))
	for _, id := range mine {
		if !slices.Contains(normal, id) {
			t.Errorf("CLIENT LIST TYPE normal: ids %v, want %d among them", normal, id)
		}
	}
	for _, typ := range []string{"pubsub", "replica", "master"} {
		if got := text(t, e.rdb.Do(ctx, "client", "list", "type", typ)); strings.TrimSpace(got) != "" {
			t.Errorf("CLIENT LIST TYPE %s: %q, want none", typ, got)
		}
	}
	wantErr(t, e.rdb.Do(ctx, "client", "list", "type", "foo"), "ERR Unknown client type 'foo'")
	wantErr(t, e.rdb.Do(ctx, "client", "list", "id", "abc"), "ERR Invalid client ID")
	wantErr(t, e.rdb.Do(ctx, "client", "list", "id"), "ERR syntax error")
	wantErr(t, e.rdb.Do(ctx, "client", "list", "type", "normal", "x"), "ERR syntax error")
}
