package goclients

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// TestGomemcache drives every method of gomemcache's Client over TCP and
// the Unix socket. Against memcached itself (COMPAT_TARGET=memcached) it
// checks the expectations; sessiond must answer the same.
func TestGomemcache(t *testing.T) {
	for _, unix := range []bool{false, true} {
		name := "tcp"
		if unix {
			name = "unix"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := harness.StartTarget(t, harness.Target{Memcache: true, Unix: unix})
			addr := srv.MemcacheAddr
			if unix {
				addr = srv.MemcacheUnix
			}
			if addr == "" {
				t.Fatal("the server opened no memcached listener")
			}
			mc := memcache.New(addr)
			mc.Timeout = 5 * time.Second
			t.Cleanup(func() { mc.Close() })
			for _, tc := range []struct {
				name string
				fn   func(*testing.T, *memcache.Client)
			}{
				{"set-get", testMCSetGet},
				{"get-multi", testMCGetMulti},
				{"add-replace", testMCAddReplace},
				{"append-prepend", testMCAppendPrepend},
				{"cas", testMCCompareAndSwap},
				{"cas-concurrent", testMCCASConcurrent},
				{"incr-decr", testMCIncrDecr},
				{"delete", testMCDelete},
				{"expiration", testMCExpiration},
				{"touch", testMCTouch},
				{"get-and-touch", testMCGetAndTouch},
				{"ping", func(t *testing.T, mc *memcache.Client) {
					if err := mc.Ping(); err != nil {
						t.Fatalf("Ping: %v", err)
					}
				}},
				{"flush", testMCFlush}, // last: it empties the server
			} {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, mc) })
			}
		})
	}
}

// mcKey returns a key unique to the test, so that subtests sharing a server
// do not see each other's items.
func mcKey(t *testing.T, suffix string) string {
	return strings.NewReplacer("/", ":", " ", "_").Replace(t.Name()) + ":" + suffix
}

// mustGet gets key and fails the test unless it holds value and flags.
func mustGet(t *testing.T, mc *memcache.Client, key string, value []byte, flags uint32) *memcache.Item {
	t.Helper()
	it, err := mc.Get(key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	if !bytes.Equal(it.Value, value) || it.Flags != flags {
		t.Fatalf("Get %s = %q flags %d, want %q flags %d", key, it.Value, it.Flags, value, flags)
	}
	return it
}

// mustMiss fails the test unless key is absent.
func mustMiss(t *testing.T, mc *memcache.Client, key string) {
	t.Helper()
	if it, err := mc.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get %s = %+v, %v; want a cache miss", key, it, err)
	}
}

func testMCSetGet(t *testing.T, mc *memcache.Client) {
	for _, tc := range []struct {
		name  string
		value []byte
		flags uint32
	}{
		{"json", []byte(`{"cookie":{"maxAge":86400000},"user":"alice"}`), 2},
		{"binary", []byte("a\r\nb\x00c\r\n\xff"), math.MaxUint32},
		{"empty", []byte{}, 0},
		{"large", bytes.Repeat([]byte("x"), 512<<10), 7},
	} {
		key := mcKey(t, tc.name)
		if err := mc.Set(&memcache.Item{Key: key, Value: tc.value, Flags: tc.flags}); err != nil {
			t.Fatalf("Set %s: %v", key, err)
		}
		mustGet(t, mc, key, tc.value, tc.flags)
	}
	// An overwrite replaces value and flags.
	key := mcKey(t, "json")
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v2"), Flags: 9}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, mc, key, []byte("v2"), 9)
	mustMiss(t, mc, mcKey(t, "never-set"))
}

func testMCGetMulti(t *testing.T, mc *memcache.Client) {
	want := map[string]string{}
	var keys []string
	for i := range 20 {
		k := mcKey(t, fmt.Sprint(i))
		keys = append(keys, k)
		if i%4 == 3 {
			continue // left missing
		}
		want[k] = fmt.Sprintf("value-%d", i)
		if err := mc.Set(&memcache.Item{Key: k, Value: []byte(want[k]), Flags: uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := mc.GetMulti(keys)
	if err != nil {
		t.Fatalf("GetMulti: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("GetMulti returned %d items, want %d", len(got), len(want))
	}
	for k, v := range want {
		if it := got[k]; it == nil || string(it.Value) != v {
			t.Errorf("GetMulti[%s] = %+v, want %q", k, it, v)
		}
	}
}

func testMCAddReplace(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "k")
	if err := mc.Replace(&memcache.Item{Key: key, Value: []byte("r")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Replace of a missing key: %v, want ErrNotStored", err)
	}
	mustMiss(t, mc, key)
	if err := mc.Add(&memcache.Item{Key: key, Value: []byte("a"), Flags: 1}); err != nil {
		t.Fatalf("Add of a new key: %v", err)
	}
	if err := mc.Add(&memcache.Item{Key: key, Value: []byte("b")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Add of an existing key: %v, want ErrNotStored", err)
	}
	mustGet(t, mc, key, []byte("a"), 1)
	if err := mc.Replace(&memcache.Item{Key: key, Value: []byte("r"), Flags: 2}); err != nil {
		t.Fatalf("Replace of an existing key: %v", err)
	}
	mustGet(t, mc, key, []byte("r"), 2)
}

func testMCAppendPrepend(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "k")
	if err := mc.Append(&memcache.Item{Key: key, Value: []byte("x")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Append to a missing key: %v, want ErrNotStored", err)
	}
	if err := mc.Prepend(&memcache.Item{Key: key, Value: []byte("x")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Prepend to a missing key: %v, want ErrNotStored", err)
	}
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("middle"), Flags: 5, Expiration: 100}); err != nil {
		t.Fatal(err)
	}
	// The flags and expiration of an append are ignored, as in memcached.
	if err := mc.Append(&memcache.Item{Key: key, Value: []byte("-end"), Flags: 8}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := mc.Prepend(&memcache.Item{Key: key, Value: []byte("start-"), Flags: 9}); err != nil {
		t.Fatalf("Prepend: %v", err)
	}
	mustGet(t, mc, key, []byte("start-middle-end"), 5)
}

func testMCCompareAndSwap(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "k")
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	it := mustGet(t, mc, key, []byte("v1"), 0)
	stale := *it
	it.Value = []byte("v2")
	if err := mc.CompareAndSwap(it); err != nil {
		t.Fatalf("CompareAndSwap with a fresh CasID: %v", err)
	}
	next := mustGet(t, mc, key, []byte("v2"), 0)
	if next.CasID == stale.CasID {
		t.Errorf("the CasID did not change on a write: %d", next.CasID)
	}
	stale.Value = []byte("lost update")
	if err := mc.CompareAndSwap(&stale); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("CompareAndSwap with a stale CasID: %v, want ErrCASConflict", err)
	}
	mustGet(t, mc, key, []byte("v2"), 0)
	// Any write changes the CasID: a set in between fails the swap.
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v3")}); err != nil {
		t.Fatal(err)
	}
	next.Value = []byte("lost update")
	if err := mc.CompareAndSwap(next); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("CompareAndSwap after another set: %v, want ErrCASConflict", err)
	}
	if err := mc.Delete(key); err != nil {
		t.Fatal(err)
	}
	if err := mc.CompareAndSwap(next); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("CompareAndSwap of a deleted key: %v, want ErrCacheMiss", err)
	}
}

// testMCCASConcurrent: clients racing to increment one counter through
// gets + cas lose no update.
func testMCCASConcurrent(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "counter")
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				it, err := mc.Get(key)
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(string(it.Value), &n)
				it.Value = []byte(fmt.Sprint(n + 1))
				switch err := mc.CompareAndSwap(it); {
				case err == nil:
					done++
				case !errors.Is(err, memcache.ErrCASConflict):
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustGet(t, mc, key, []byte(fmt.Sprint(workers*each)), 0)
}

func testMCIncrDecr(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "n")
	if _, err := mc.Increment(key, 1); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Increment of a missing key: %v, want ErrCacheMiss", err)
	}
	if _, err := mc.Decrement(key, 1); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Decrement of a missing key: %v, want ErrCacheMiss", err)
	}
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("10"), Flags: 3}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		incr  bool
		delta uint64
		want  uint64
	}{
		{true, 5, 15},
		{false, 3, 12},
		{false, 100, 0}, // decr stops at 0
		{true, math.MaxUint64, math.MaxUint64},
		{true, 2, 1}, // incr wraps at 2^64
	} {
		op, fn := "Increment", mc.Increment
		if !step.incr {
			op, fn = "Decrement", mc.Decrement
		}
		got, err := fn(key, step.delta)
		if err != nil || got != step.want {
			t.Fatalf("%s by %d = %d, %v; want %d", op, step.delta, got, err, step.want)
		}
	}
	// The stored value is the number, flags kept. (memcached pads a number
	// that got shorter with spaces, in place; either is a number to incr.)
	if it, err := mc.Get(key); err != nil || strings.TrimRight(string(it.Value), " ") != "1" || it.Flags != 3 {
		t.Fatalf("Get %s after incr/decr = %+v, %v; want 1 with flags 3", key, it, err)
	}
	text := mcKey(t, "text")
	if err := mc.Set(&memcache.Item{Key: text, Value: []byte("abc")}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Increment(text, 1); err == nil || !strings.Contains(err.Error(), "non-numeric") {
		t.Fatalf("Increment of a non-number: %v, want memcached's non-numeric error", err)
	}
	mustGet(t, mc, text, []byte("abc"), 0)
}

func testMCDelete(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "k")
	if err := mc.Delete(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Delete of a missing key: %v, want ErrCacheMiss", err)
	}
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Delete(key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustMiss(t, mc, key)
}

// testMCExpiration: memcached's exptime rules. Up to 30 days it is
// relative, past that an absolute unix time; negative is already expired.
// Times are checked with a second of slack: memcached's clock ticks in
// seconds.
func testMCExpiration(t *testing.T, mc *memcache.Client) {
	now := time.Now().Unix()
	for _, tc := range []struct {
		name string
		exp  int32
		live bool
	}{
		{"none", 0, true},
		{"relative", 100, true},
		{"thirty-days", 30 * 24 * 3600, true},
		{"absolute-future", int32(now + 100), true},
		{"absolute-past", int32(now - 100), false},
		{"negative", -1, false},
	} {
		key := mcKey(t, tc.name)
		if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: tc.exp}); err != nil {
			t.Fatalf("Set %s with expiration %d: %v", key, tc.exp, err)
		}
		if tc.live {
			mustGet(t, mc, key, []byte("v"), 0)
		} else {
			mustMiss(t, mc, key)
		}
	}
	key := mcKey(t, "short")
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 1}); err != nil {
		t.Fatal(err)
	}
	waitMiss(t, mc, key, 3*time.Second)
}

// waitMiss fails the test unless key is gone within d.
func waitMiss(t *testing.T, mc *memcache.Client, key string, d time.Duration) {
	t.Helper()
	testkit.Eventually(t, d, key+" has expired", func() bool {
		_, err := mc.Get(key)
		if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			t.Fatalf("Get %s: %v", key, err)
		}
		return err != nil
	})
}

func testMCTouch(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "k")
	if err := mc.Touch(key, 10); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Touch of a missing key: %v, want ErrCacheMiss", err)
	}
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 2}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Touch(key, 100); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	time.Sleep(3500 * time.Millisecond) // past the first expiration and memcached's slack
	mustGet(t, mc, key, []byte("v"), 0)
	if err := mc.Touch(key, -1); err != nil { // expires it now
		t.Fatalf("Touch with a negative time: %v", err)
	}
	mustMiss(t, mc, key)
}

func testMCGetAndTouch(t *testing.T, mc *memcache.Client) {
	key := mcKey(t, "k")
	if _, err := mc.GetAndTouch(key, 10); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("GetAndTouch of a missing key: %v, want ErrCacheMiss", err)
	}
	if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v"), Flags: 4, Expiration: 100}); err != nil {
		t.Fatal(err)
	}
	it, err := mc.GetAndTouch(key, 1)
	if err != nil || string(it.Value) != "v" || it.Flags != 4 {
		t.Fatalf("GetAndTouch = %+v, %v; want v with flags 4", it, err)
	}
	waitMiss(t, mc, key, 3*time.Second) // the touch shortened it to 1s
}

func testMCFlush(t *testing.T, mc *memcache.Client) {
	for i, flush := range []func() error{mc.FlushAll, mc.DeleteAll} {
		key := mcKey(t, fmt.Sprint(i))
		if err := mc.Set(&memcache.Item{Key: key, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		if err := flush(); err != nil {
			t.Fatalf("flush %d: %v", i, err)
		}
		mustMiss(t, mc, key)
	}
}

// TestMemcacheAndRedis: one store behind both protocols. A session set by
// a memcached client is the same bytes, with the same TTL, to a Redis
// client, and the other way round. sessiond only: no reference serves both.
func TestMemcacheAndRedis(t *testing.T) {
	if harness.Reference() != "" {
		t.Skip("no reference server speaks both protocols")
	}
	srv := harness.StartTarget(t, harness.Target{Memcache: true})
	mc := memcache.New(srv.MemcacheAddr)
	mc.Timeout = 5 * time.Second
	t.Cleanup(func() { mc.Close() })
	rdb := newClient(t, clientOptions(srv, variant{protocol: 3}))
	ctx := testContext(t)

	value := []byte(`{"cookie":{"originalMaxAge":3600000},"user":"alice"}`)
	if err := mc.Set(&memcache.Item{Key: "sess:from-mc", Value: value, Flags: 2, Expiration: 3600}); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.Get(ctx, "sess:from-mc").Bytes(); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("GET over RESP = %q, %v; want %q", got, err, value)
	}
	if ttl, err := rdb.TTL(ctx, "sess:from-mc").Result(); err != nil || ttl < 3595*time.Second || ttl > 3600*time.Second {
		t.Fatalf("TTL over RESP = %v, %v; want about 1h", ttl, err)
	}

	if err := rdb.Set(ctx, "sess:from-redis", value, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	mustGet(t, mc, "sess:from-redis", value, 0)
	if err := mc.Touch("sess:from-redis", 60); err != nil {
		t.Fatal(err)
	}
	if ttl, err := rdb.TTL(ctx, "sess:from-redis").Result(); err != nil || ttl < 55*time.Second || ttl > 60*time.Second {
		t.Fatalf("TTL over RESP after a memcached touch = %v, %v; want about 60s", ttl, err)
	}
	if err := mc.Delete("sess:from-redis"); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, "sess:from-redis").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after a memcached delete = %d, %v; want 0", n, err)
	}
	if err := rdb.Del(ctx, "sess:from-mc").Err(); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, mc, "sess:from-mc")
}
