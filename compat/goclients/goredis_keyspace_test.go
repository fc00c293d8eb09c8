package goclients

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// keyspaceChecks cover listing and counting keys: connect-redis and scs
// list sessions with SCAN MATCH prefix*, scs redisstore with KEYS.
var keyspaceChecks = []check{
	{"scan", checkScan},
	{"scan-type", checkScanType},
	{"keys", checkKeys},
	{"dbsize-flushdb", checkDBSizeFlushDB},
}

// fillKeyspace empties the keyspace and sets n session keys "sess:NNN"
// and n/5 others, returning the session keys in order.
func fillKeyspace(t *testing.T, e env, n int) []string {
	t.Helper()
	want(t, e.rdb.FlushDB(e.ctx), "OK")
	pipe := e.rdb.Pipeline()
	var sess []string
	for i := range n {
		k := fmt.Sprintf("sess:%03d", i)
		sess = append(sess, k)
		pipe.Set(e.ctx, k, "v", 0)
		if i%5 == 0 {
			pipe.Set(e.ctx, fmt.Sprintf("other:%03d", i), "v", 0)
		}
	}
	if _, err := pipe.Exec(e.ctx); err != nil {
		t.Fatalf("setting %d keys: %v", n, err)
	}
	return sess
}

// scanAll iterates SCAN from cursor 0 to 0, checking every key against the
// pattern's prefix, and returns the distinct keys seen, sorted. SCAN may
// return a key twice, never miss one that exists throughout.
func scanAll(t *testing.T, e env, match string, count int64) []string {
	t.Helper()
	seen := map[string]bool{}
	var cursor uint64
	for calls := 0; ; calls++ {
		if calls > 10_000 {
			t.Fatalf("SCAN MATCH %s COUNT %d: no end after %d calls", match, count, calls)
		}
		page, next, err := e.rdb.Scan(e.ctx, cursor, match, count).Result()
		if err != nil {
			t.Fatalf("SCAN %d MATCH %s COUNT %d: %v", cursor, match, count, err)
		}
		for _, k := range page {
			if !strings.HasPrefix(k, strings.TrimSuffix(match, "*")) {
				t.Errorf("SCAN MATCH %s returned %q", match, k)
			}
			seen[k] = true
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	out := keys(seen)
	slices.Sort(out)
	return out
}

// wantStrings compares lists of keys in any order.
func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s: %d keys, want %d\n got: %s\nwant: %s", what, len(got), len(want), abbrev(got), abbrev(want))
	}
}

func abbrev(ks []string) string {
	if len(ks) > 12 {
		return strings.Join(ks[:12], " ") + fmt.Sprintf(" ... (%d more)", len(ks)-12)
	}
	return strings.Join(ks, " ")
}

func checkScan(t *testing.T, e env) {
	sess := fillKeyspace(t, e, 300)
	for _, count := range []int64{0, 7, 100, 1000} {
		wantStrings(t, fmt.Sprintf("SCAN MATCH sess:* COUNT %d", count), scanAll(t, e, "sess:*", count), sess)
	}
	all := ok(t, e.rdb.Keys(e.ctx, "*")).Val()
	wantStrings(t, "SCAN without MATCH", scanAll(t, e, "", 50), all)
	wantStrings(t, "SCAN MATCH nothing:*", scanAll(t, e, "nothing:*", 50), nil)

	// go-redis's iterator, as applications use it.
	var iterated []string
	it := e.rdb.Scan(e.ctx, 0, "sess:*", 50).Iterator()
	for it.Next(e.ctx) {
		iterated = append(iterated, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("SCAN iterator: %v", err)
	}
	wantStrings(t, "SCAN iterator", slices.Compact(slices.Sorted(slices.Values(iterated))), sess)
}

// checkScanType: every session is a string, so TYPE string lists them all
// and any other type none.
func checkScanType(t *testing.T, e env) {
	sess := fillKeyspace(t, e, 40)
	scanType := func(typ string) []string {
		var out []string
		it := e.rdb.ScanType(e.ctx, 0, "sess:*", 1000, typ).Iterator()
		for it.Next(e.ctx) {
			out = append(out, it.Val())
		}
		if err := it.Err(); err != nil {
			t.Fatalf("SCAN TYPE %s: %v", typ, err)
		}
		return slices.Compact(slices.Sorted(slices.Values(out)))
	}
	wantStrings(t, "SCAN TYPE string", scanType("string"), sess)
	wantStrings(t, "SCAN TYPE hash", scanType("hash"), nil)
}

// checkKeys includes the glob forms beyond prefix*: ? and [...].
func checkKeys(t *testing.T, e env) {
	sess := fillKeyspace(t, e, 30)
	cases := []struct {
		pattern string
		want    []string
	}{
		{"sess:*", sess},
		{"sess:00?", sess[:10]},
		{"sess:0[12]0", []string{"sess:010", "sess:020"}},
		{"sess:02[^0-7]", []string{"sess:028", "sess:029"}},
		{"*:025", []string{"other:025", "sess:025"}},
		{"nothing:*", nil},
	}
	for _, c := range cases {
		wantStrings(t, "KEYS "+c.pattern, ok(t, e.rdb.Keys(e.ctx, c.pattern)).Val(), c.want)
	}
}

func checkDBSizeFlushDB(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	want(t, rdb.FlushDB(ctx), "OK")
	want(t, rdb.DBSize(ctx), int64(0))
	want(t, rdb.MSet(ctx, "size:a", "1", "size:b", "2", "size:c", "3"), "OK")
	want(t, rdb.DBSize(ctx), int64(3))
	want(t, rdb.FlushDB(ctx), "OK")
	want(t, rdb.DBSize(ctx), int64(0))
	wantNil(t, rdb.Get(ctx, "size:a"))
	want(t, rdb.Set(ctx, "size:a", "1", 0), "OK")
	want(t, rdb.FlushAll(ctx), "OK")
	want(t, rdb.DBSize(ctx), int64(0))
	// ASYNC, as Redis 6.2+ clients may send.
	want(t, rdb.Set(ctx, "size:a", "1", 0), "OK")
	want(t, rdb.FlushDBAsync(ctx), "OK")
	want(t, rdb.DBSize(ctx), int64(0))
}
