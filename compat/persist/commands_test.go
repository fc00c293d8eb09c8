package persist

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/redis/go-redis/v9"
)

// everyWrite changes sessions with each write command there is but those
// change and create use: over RESP SET GET, GETEX, GETDEL, UNLINK,
// PEXPIREAT, MSET, SETNX, PSETEX; over memcached add, replace, append,
// prepend, incr, cas and gat. Each must reach the log as SET and DEL do.
func (ss *sessions) everyWrite(t *testing.T, c client, rng *rand.Rand, round int) {
	t.Helper()
	ctx := bounded(t)
	resp, mc := ss.keys()
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("round %d: %s: %v", round, what, err)
	}
	keys := pick(rng, resp, 7)
	for len(keys) < 7 { // after FLUSHALL: keys to work on
		key := fmt.Sprintf("sess:r%d:base:%d", round, len(keys))
		s := session{value: sessionValue(rng, key, round)}
		if err := c.rdb.Set(ctx, key, s.value, 0).Err(); err != nil {
			fail("SET "+key, err)
		}
		ss.put(key, s)
		keys = append(keys, key)
	}

	// SET GET replaces the value and drops the TTL.
	s := session{value: sessionValue(rng, keys[0], round)}
	if err := c.rdb.SetArgs(ctx, keys[0], s.value, redis.SetArgs{Get: true}).Err(); err != nil {
		fail("SET "+keys[0]+" GET", err)
	}
	ss.put(keys[0], s)
	// GETEX EX sets a TTL, GETEX PERSIST drops it.
	s = ss.live[keys[1]]
	s.expire = time.Now().Add(10 * time.Minute)
	if err := c.rdb.GetEx(ctx, keys[1], 10*time.Minute).Err(); err != nil {
		fail("GETEX "+keys[1]+" EX", err)
	}
	ss.put(keys[1], s)
	s = ss.live[keys[2]]
	s.expire = time.Time{}
	if err := c.rdb.Do(ctx, "GETEX", keys[2], "PERSIST").Err(); err != nil {
		fail("GETEX "+keys[2]+" PERSIST", err)
	}
	ss.put(keys[2], s)
	// GETDEL and UNLINK delete.
	if err := c.rdb.GetDel(ctx, keys[3]).Err(); err != nil {
		fail("GETDEL "+keys[3], err)
	}
	if n, err := c.rdb.Unlink(ctx, keys[4]).Result(); err != nil || n != 1 {
		fail("UNLINK "+keys[4], fmt.Errorf("= %d, %v", n, err))
	}
	for _, k := range keys[3:5] {
		delete(ss.live, k)
		ss.gone[k] = true
	}
	// PEXPIREAT sets an absolute expiry to the millisecond.
	s = ss.live[keys[5]]
	s.expire = time.UnixMilli(time.Now().Add(20 * time.Minute).UnixMilli())
	if err := c.rdb.PExpireAt(ctx, keys[5], s.expire).Err(); err != nil {
		fail("PEXPIREAT "+keys[5], err)
	}
	ss.put(keys[5], s)
	// SETNX changes nothing on a key that exists.
	if ok, err := c.rdb.SetNX(ctx, keys[6], "not this", 0).Result(); err != nil || ok {
		fail("SETNX "+keys[6], fmt.Errorf("= %v, %v on a key that exists", ok, err))
	}

	// New keys: MSET, SETNX, PSETEX.
	var pairs []any
	for i := range 5 {
		key := fmt.Sprintf("sess:r%d:mset:%d", round, i)
		s := session{value: sessionValue(rng, key, round)}
		pairs = append(pairs, key, s.value)
		ss.put(key, s)
	}
	if err := c.rdb.MSet(ctx, pairs...).Err(); err != nil {
		fail("MSET", err)
	}
	key := fmt.Sprintf("sess:r%d:setnx", round)
	s = session{value: sessionValue(rng, key, round)}
	if ok, err := c.rdb.SetNX(ctx, key, s.value, 0).Result(); err != nil || !ok {
		fail("SETNX "+key, fmt.Errorf("= %v, %v on a new key", ok, err))
	}
	ss.put(key, s)
	key = fmt.Sprintf("sess:r%d:psetex", round)
	s = session{value: sessionValue(rng, key, round), expire: time.Now().Add(90 * time.Second)}
	if err := c.rdb.Do(ctx, "PSETEX", key, 90_000, s.value).Err(); err != nil {
		fail("PSETEX "+key, err)
	}
	ss.put(key, s)

	ss.everyMemcacheWrite(t, c, rng, round, mc)
}

// everyMemcacheWrite is everyWrite's memcached half.
func (ss *sessions) everyMemcacheWrite(t *testing.T, c client, rng *rand.Rand, round int, mc []string) {
	t.Helper()
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("round %d: memcache %s: %v", round, what, err)
	}
	keys := pick(rng, mc, 4)
	for len(keys) < 4 {
		key := fmt.Sprintf("mc:r%d:base:%d", round, len(keys))
		s := session{value: sessionValue(rng, key, round), mc: true}
		if err := c.mc.Set(&memcache.Item{Key: key, Value: []byte(s.value)}); err != nil {
			fail("set "+key, err)
		}
		ss.put(key, s)
		keys = append(keys, key)
	}

	// replace: a new value, flags and (no) TTL.
	s := session{value: sessionValue(rng, keys[0], round), flags: 77, mc: true}
	if err := c.mc.Replace(&memcache.Item{Key: keys[0], Value: []byte(s.value), Flags: s.flags}); err != nil {
		fail("replace "+keys[0], err)
	}
	ss.put(keys[0], s)
	// append and prepend keep the flags and the TTL.
	s = ss.live[keys[1]]
	s.value += "+appended"
	if err := c.mc.Append(&memcache.Item{Key: keys[1], Value: []byte("+appended")}); err != nil {
		fail("append "+keys[1], err)
	}
	ss.put(keys[1], s)
	s = ss.live[keys[2]]
	s.value = "prepended+" + s.value
	if err := c.mc.Prepend(&memcache.Item{Key: keys[2], Value: []byte("prepended+")}); err != nil {
		fail("prepend "+keys[2], err)
	}
	ss.put(keys[2], s)
	// gat sets the TTL.
	s = ss.live[keys[3]]
	s.expire = time.Now().Add(400 * time.Second)
	if _, err := c.mc.GetAndTouch(keys[3], 400); err != nil {
		fail("gat "+keys[3], err)
	}
	ss.put(keys[3], s)

	// New keys: add, incr, cas.
	key := fmt.Sprintf("mc:r%d:add", round)
	s = session{value: sessionValue(rng, key, round), flags: 5, mc: true}
	if err := c.mc.Add(&memcache.Item{Key: key, Value: []byte(s.value), Flags: s.flags}); err != nil {
		fail("add "+key, err)
	}
	ss.put(key, s)
	key = fmt.Sprintf("mc:r%d:counter", round)
	if err := c.mc.Set(&memcache.Item{Key: key, Value: []byte("100")}); err != nil {
		fail("set "+key, err)
	}
	n, err := c.mc.Increment(key, uint64(round+1))
	if err != nil {
		fail("incr "+key, err)
	}
	ss.put(key, session{value: strconv.FormatUint(n, 10), mc: true})
	key = fmt.Sprintf("mc:r%d:cas", round)
	if err := c.mc.Set(&memcache.Item{Key: key, Value: []byte("before"), Expiration: 100}); err != nil {
		fail("set "+key, err)
	}
	it, err := c.mc.Get(key)
	if err != nil {
		fail("gets "+key, err)
	}
	s = session{value: sessionValue(rng, key, round), flags: 9, mc: true}
	it.Value, it.Flags, it.Expiration = []byte(s.value), s.flags, 0
	if err := c.mc.CompareAndSwap(it); err != nil {
		fail("cas "+key, err)
	}
	ss.put(key, s)
}

// flushAll empties the server: every session is gone, and must stay gone.
func (ss *sessions) flushAll(t *testing.T, c client) {
	t.Helper()
	if err := c.rdb.FlushAll(bounded(t)).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	for k := range ss.live {
		ss.gone[k] = true
	}
	clear(ss.live)
}
