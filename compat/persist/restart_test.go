package persist

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/redis/go-redis/v9"
)

// session is what a live key must hold after a restart.
type session struct {
	value  string
	expire time.Time // zero: no TTL; else no earlier than the server's expiry
	flags  uint32    // memcached's flags
	mc     bool      // written over memcached, and read back over it too
}

// sessions is what a test wrote: the keys that must be there, those
// that must not, and those that expire within a second or two.
type sessions struct {
	live     map[string]session
	gone     map[string]bool
	expiring map[string]time.Time
}

// client is the two ways a test writes sessions into one server.
type client struct {
	rdb *redis.Client
	mc  *memcache.Client
}

func newSessionClient(t *testing.T, p *proc) client {
	mc := memcache.New(p.MemcacheAddr)
	mc.Timeout = 5 * time.Second
	t.Cleanup(func() { mc.Close() })
	return client{rdb: p.rdb, mc: mc}
}

// stopper is one way a server is stopped that must lose nothing.
type stopper struct {
	name string
	stop func(p *proc, t *testing.T)
	// snapshot: the directory holds a snapshot afterwards.
	snapshot bool
}

var stoppers = []stopper{
	{name: "SIGTERM", stop: (*proc).sigterm},
	{name: "SIGTERM again", stop: (*proc).sigterm},
	{name: "SHUTDOWN SAVE", snapshot: true, stop: func(p *proc, t *testing.T) {
		if err := p.rdb.ShutdownSave(bounded(t)).Err(); err != nil {
			t.Fatalf("SHUTDOWN SAVE: %v", err)
		}
		p.waitGone(t)
	}},
	{name: "SHUTDOWN NOSAVE", stop: func(p *proc, t *testing.T) {
		if err := p.rdb.ShutdownNoSave(bounded(t)).Err(); err != nil {
			t.Fatalf("SHUTDOWN NOSAVE: %v", err)
		}
		p.waitGone(t)
	}},
}

// TestRestartKeepsSessions writes sessions over RESP and memcached (with
// and without TTLs, some deleted, some about to expire), stops the server
// gracefully, starts another on the directory and checks every session:
// live ones with their values, flags and remaining TTLs, deleted and
// expired ones gone. Each round changes the sessions with every write
// command (the second begins with FLUSHALL) and stops the server another
// way: SIGTERM twice, SHUTDOWN SAVE, SHUTDOWN NOSAVE.
func TestRestartKeepsSessions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"--memcache-addr", "127.0.0.1:0"}
	p := start(t, dir, args...)
	p.waitLoaded(t)
	ss := &sessions{live: map[string]session{}, gone: map[string]bool{}, expiring: map[string]time.Time{}}
	for round, st := range stoppers {
		c := newSessionClient(t, p)
		rng := rand.New(rand.NewPCG(7, uint64(round)))
		switch round {
		case 0:
			ss.create(t, c, rng)
		case 1:
			// Replayed from the log: no snapshot holds the clear yet.
			ss.flushAll(t, c)
			fallthrough
		default:
			ss.change(t, c, rng, round)
			ss.everyWrite(t, c, rng, round)
		}
		ss.expireSoon(t, c, round)
		ss.verify(t, c, false)
		if t.Failed() {
			t.Fatalf("round %d: before the stop, the server does not hold what the test wrote: the test or a command is wrong, not the data directory", round)
		}
		st.stop(p, t)
		if round%2 == 0 {
			// The sessions of a second expire while no server runs:
			// the load must drop them.
			time.Sleep(time.Until(ss.lastExpiring()) + 50*time.Millisecond)
		}
		p = restart(t, dir, args...)
		t.Logf("round %d, stopped by %s: %d live sessions, %d gone, %d expiring", round, st.name,
			len(ss.live), len(ss.gone), len(ss.expiring))
		if base := p.persistence(t)["aof_base_size"]; st.snapshot && (base == "" || base == "0") {
			t.Errorf("after %s, the restarted server reports aof_base_size %q: no snapshot was loaded", st.name, base)
		}
		ss.verify(t, newSessionClient(t, p), true)
		if t.Failed() {
			t.Fatalf("round %d, stopped by %s: sessions lost or changed", round, st.name)
		}
	}
}

// put records that key holds s.
func (ss *sessions) put(key string, s session) {
	ss.live[key] = s
	delete(ss.gone, key)
}

// create writes the first sessions: 400 over RESP with four kinds of
// expiry, 100 over memcached, and deletes a few of each.
func (ss *sessions) create(t *testing.T, c client, rng *rand.Rand) {
	t.Helper()
	ctx := bounded(t)
	for i := range 400 {
		key := fmt.Sprintf("sess:%d", i)
		s := session{value: sessionValue(rng, key, 0)}
		var err error
		now := time.Now()
		switch i % 4 {
		case 0:
			err = c.rdb.Set(ctx, key, s.value, 0).Err()
		case 1:
			s.expire = now.Add(time.Hour)
			err = c.rdb.Set(ctx, key, s.value, time.Hour).Err()
		case 2:
			d := time.Duration(60+rng.IntN(540))*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond
			s.expire = now.Add(d)
			err = c.rdb.Set(ctx, key, s.value, d).Err()
		case 3:
			// An absolute expiry, in whole seconds.
			at := time.Unix(now.Unix()+1800, 0)
			s.expire = at
			if err = c.rdb.Set(ctx, key, s.value, 0).Err(); err == nil {
				err = c.rdb.ExpireAt(ctx, key, at).Err()
			}
		}
		if err != nil {
			t.Fatalf("writing %s: %v", key, err)
		}
		ss.put(key, s)
	}
	for i := range 100 {
		key := fmt.Sprintf("mc:%d", i)
		s := session{value: sessionValue(rng, key, 0), flags: uint32(i * 7), mc: true}
		exp := int32(0)
		if i%2 == 1 {
			exp = 100
			s.expire = time.Now().Add(100 * time.Second)
		}
		if err := c.mc.Set(&memcache.Item{Key: key, Value: []byte(s.value), Flags: s.flags, Expiration: exp}); err != nil {
			t.Fatalf("memcache set %s: %v", key, err)
		}
		ss.put(key, s)
	}
	ss.deleteSome(t, c, rng, 20, 5)
}

// change overwrites, re-expires, persists, deletes and adds sessions.
func (ss *sessions) change(t *testing.T, c client, rng *rand.Rand, round int) {
	t.Helper()
	ctx := bounded(t)
	resp, mc := ss.keys()
	for _, key := range pick(rng, resp, 40) { // SET drops the TTL
		s := session{value: sessionValue(rng, key, round)}
		if err := c.rdb.Set(ctx, key, s.value, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		ss.put(key, s)
	}
	for _, key := range pick(rng, resp, 20) { // KEEPTTL keeps it
		s := ss.live[key]
		s.value = sessionValue(rng, key, round)
		if err := c.rdb.SetArgs(ctx, key, s.value, redis.SetArgs{KeepTTL: true}).Err(); err != nil {
			t.Fatalf("SET %s KEEPTTL: %v", key, err)
		}
		ss.put(key, s)
	}
	for _, key := range pick(rng, resp, 20) {
		s := ss.live[key]
		s.expire = time.Now().Add(30 * time.Minute)
		if err := c.rdb.Expire(ctx, key, 30*time.Minute).Err(); err != nil {
			t.Fatalf("EXPIRE %s: %v", key, err)
		}
		ss.put(key, s)
	}
	for _, key := range pick(rng, resp, 20) {
		s := ss.live[key]
		s.expire = time.Time{}
		if err := c.rdb.Persist(ctx, key).Err(); err != nil {
			t.Fatalf("PERSIST %s: %v", key, err)
		}
		ss.put(key, s)
	}
	for _, key := range pick(rng, mc, 20) {
		s := session{value: sessionValue(rng, key, round), flags: uint32(round*1000 + rng.IntN(1000)), mc: true,
			expire: time.Now().Add(200 * time.Second)}
		if err := c.mc.Set(&memcache.Item{Key: key, Value: []byte(s.value), Flags: s.flags, Expiration: 200}); err != nil {
			t.Fatalf("memcache set %s: %v", key, err)
		}
		ss.put(key, s)
	}
	for _, key := range pick(rng, mc, 10) {
		s := ss.live[key]
		s.expire = time.Now().Add(300 * time.Second)
		if err := c.mc.Touch(key, 300); err != nil {
			t.Fatalf("memcache touch %s: %v", key, err)
		}
		ss.put(key, s)
	}
	ss.deleteSome(t, c, rng, 20, 5)
	for i := range 50 {
		key := fmt.Sprintf("sess:r%d:%d", round, i)
		s := session{value: sessionValue(rng, key, round)}
		d := time.Duration(0)
		if i%2 == 0 {
			d = 2 * time.Hour
			s.expire = time.Now().Add(d)
		}
		if err := c.rdb.Set(ctx, key, s.value, d).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		ss.put(key, s)
	}
	for i := range 20 {
		key := fmt.Sprintf("mc:r%d:%d", round, i)
		s := session{value: sessionValue(rng, key, round), flags: uint32(i), mc: true}
		if err := c.mc.Set(&memcache.Item{Key: key, Value: []byte(s.value), Flags: s.flags}); err != nil {
			t.Fatalf("memcache set %s: %v", key, err)
		}
		ss.put(key, s)
	}
}

// deleteSome deletes nResp RESP sessions and nMC memcached ones.
func (ss *sessions) deleteSome(t *testing.T, c client, rng *rand.Rand, nResp, nMC int) {
	t.Helper()
	resp, mc := ss.keys()
	for _, key := range pick(rng, resp, nResp) {
		if n, err := c.rdb.Del(bounded(t), key).Result(); err != nil || n != 1 {
			t.Fatalf("DEL %s = %d, %v; want 1", key, n, err)
		}
		delete(ss.live, key)
		ss.gone[key] = true
	}
	for _, key := range pick(rng, mc, nMC) {
		if err := c.mc.Delete(key); err != nil {
			t.Fatalf("memcache delete %s: %v", key, err)
		}
		delete(ss.live, key)
		ss.gone[key] = true
	}
}

// expireSoon writes sessions with a TTL of a second, over both protocols,
// and checks they are there: the restart must not keep them past it.
func (ss *sessions) expireSoon(t *testing.T, c client, round int) {
	t.Helper()
	for i := range 10 {
		key := fmt.Sprintf("short:r%d:%d", round, i)
		at := time.Now().Add(time.Second)
		var err error
		if i%3 == 2 {
			err = c.mc.Set(&memcache.Item{Key: key, Value: []byte("brief"), Expiration: 1})
		} else {
			err = c.rdb.Set(bounded(t), key, "brief", time.Second).Err()
		}
		if err != nil {
			t.Fatalf("writing %s: %v", key, err)
		}
		ss.expiring[key] = at
	}
}

// keys returns the live sessions written over each protocol, sorted, so
// that a seeded pick is the same every run.
func (ss *sessions) keys() (resp, mc []string) {
	for k, s := range ss.live {
		if s.mc {
			mc = append(mc, k)
		} else {
			resp = append(resp, k)
		}
	}
	slices.Sort(resp)
	slices.Sort(mc)
	return resp, mc
}

// pick returns n distinct keys of keys.
func pick(rng *rand.Rand, keys []string, n int) []string {
	keys = slices.Clone(keys)
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys[:min(n, len(keys))]
}

// sessionValue is a session's JSON, of 60 to 1,000 bytes.
func sessionValue(rng *rand.Rand, key string, round int) string {
	pad := strings.Repeat("x", rng.IntN(900))
	return fmt.Sprintf(`{"cookie":{"maxAge":3600},"key":%q,"round":%d,"pad":%q}`, key, round, pad)
}

// verify checks every session: the live ones over RESP (value and TTL)
// and memcached (value and flags), the gone ones absent, the expiring ones
// present while their second runs, and no key the test did not write.
// With settle, it also waits for the expiring ones to expire and checks
// they are gone.
func (ss *sessions) verify(t *testing.T, c client, settle bool) {
	t.Helper()
	ctx := bounded(t)
	keys := make([]string, 0, len(ss.live))
	for k := range ss.live {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var gets []*redis.StringCmd
	var ttls []*redis.DurationCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			gets = append(gets, p.Get(ctx, k))
			ttls = append(ttls, p.PTTL(ctx, k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("reading %d sessions: %v", len(keys), err)
	}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	var mcKeys []string
	for i, k := range keys {
		s := ss.live[k]
		if s.mc {
			mcKeys = append(mcKeys, k)
		}
		v, err := gets[i].Result()
		if err != nil {
			fail("GET %s: %v, want its value", k, err)
			continue
		}
		if v != s.value {
			fail("GET %s = %.40q..., want %.40q...", k, v, s.value)
		}
		d := ttls[i].Val()
		if s.expire.IsZero() {
			if d != -1 {
				fail("PTTL %s = %v, want -1 (no TTL)", k, d)
			}
			continue
		}
		// The test took its time before sending the write, so the
		// server's expiry is no earlier than s.expire.
		if left := time.Until(s.expire); d < left-2*time.Second || d > left+2*time.Second {
			fail("PTTL %s = %v, want %v give or take 2s", k, d, left.Round(time.Millisecond))
		}
	}
	for lo := 0; lo < len(mcKeys); lo += 100 {
		batch := mcKeys[lo:min(lo+100, len(mcKeys))]
		items, err := c.mc.GetMulti(batch)
		if err != nil {
			t.Fatalf("memcache get of %d keys: %v", len(batch), err)
		}
		for _, k := range batch {
			it, s := items[k], ss.live[k]
			switch {
			case it == nil:
				fail("memcache get %s: a miss, want its value", k)
			case string(it.Value) != s.value || it.Flags != s.flags:
				fail("memcache get %s = flags %d %.40q..., want flags %d %.40q...", k, it.Flags, it.Value, s.flags, s.value)
			}
		}
	}
	gone := slices.Sorted(maps.Keys(ss.gone))
	if n := existing(t, c.rdb, gone); n > 0 {
		fail("%d of %d deleted or expired sessions exist", n, len(gone))
	}
	ss.verifyExpiring(t, c, settle, fail)
	want := len(ss.live) + len(ss.expiring)
	if n, err := c.rdb.DBSize(ctx).Result(); err != nil || n != int64(want) {
		fail("DBSIZE = %d, %v; want %d: keys the test did not write, or lost", n, err, want)
	}
	if bad > 10 {
		t.Errorf("... %d mismatches in all", bad)
	}
}

// verifyExpiring checks the sessions with a TTL of a second: there, with
// a TTL of at most what is left, while their second runs. With settle, it
// waits for them to expire, checks they are gone over both protocols, and
// counts them as gone from then on.
func (ss *sessions) verifyExpiring(t *testing.T, c client, settle bool, fail func(string, ...any)) {
	t.Helper()
	for k, at := range ss.expiring {
		left := time.Until(at)
		if left < 200*time.Millisecond {
			continue
		}
		d, err := c.rdb.PTTL(bounded(t), k).Result()
		if err != nil || d <= 0 || d > left+500*time.Millisecond {
			fail("PTTL %s = %v, %v with %v of its second left", k, d, err, left.Round(time.Millisecond))
		}
	}
	if !settle {
		return
	}
	time.Sleep(time.Until(ss.lastExpiring()) + 50*time.Millisecond)
	keys := slices.Sorted(maps.Keys(ss.expiring))
	if n := existing(t, c.rdb, keys); n > 0 {
		fail("%d of %d sessions with a TTL of one second exist after it", n, len(keys))
	}
	for _, k := range keys {
		if _, err := c.mc.Get(k); !errors.Is(err, memcache.ErrCacheMiss) {
			fail("memcache get %s after its TTL: %v, want a miss", k, err)
		}
		ss.gone[k] = true
	}
	clear(ss.expiring)
}

// lastExpiring is when the last of the expiring sessions expires.
func (ss *sessions) lastExpiring() time.Time {
	var last time.Time
	for _, at := range ss.expiring {
		if at.After(last) {
			last = at
		}
	}
	return last
}

// existing returns how many of keys exist, by EXISTS.
func existing(t *testing.T, rdb *redis.Client, keys []string) int64 {
	t.Helper()
	var n int64
	for lo := 0; lo < len(keys); lo += 500 {
		m, err := rdb.Exists(bounded(t), keys[lo:min(lo+500, len(keys))]...).Result()
		if err != nil {
			t.Fatalf("EXISTS: %v", err)
		}
		n += m
	}
	return n
}
