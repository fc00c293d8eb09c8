package goclients

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// expiryChecks cover TTLs: setting, reading, removing them, and keys that
// really disappear when their time is up.
var expiryChecks = []check{
	{"expire", checkExpire},
	{"ttl", checkTTL},
	{"persist", checkPersist},
	{"expired-keys-vanish", checkExpiredKeysVanish},
}

// checkExpire runs each EXPIRE-family command on a key that has no TTL
// ("persistent") or a TTL of 100s, and checks the reply and the TTL after.
func checkExpire(t *testing.T, e env) {
	rdb := e.rdb
	type expireFunc func(ctx context.Context, key string, d time.Duration) *redis.BoolCmd
	// at adapts EXPIREAT and PEXPIREAT to a duration from now.
	at := func(f func(ctx context.Context, key string, tm time.Time) *redis.BoolCmd) expireFunc {
		return func(ctx context.Context, key string, d time.Duration) *redis.BoolCmd {
			return f(ctx, key, time.Now().Add(d))
		}
	}
	// The TTL after the command: -1 none, -2 key gone, else in (lo, hi].
	type ttl struct{ lo, hi time.Duration }
	const s, ms = time.Second, time.Millisecond
	var (
		none    = ttl{-1, -1}
		gone    = ttl{-2, -2}
		hundred = ttl{98 * s, 100 * s}
		fifty   = ttl{48 * s, 50 * s}
		twoHund = ttl{198 * s, 200 * s}
		short   = ttl{500 * ms, 1500 * ms}
	)
	cases := []struct {
		name   string
		before time.Duration // the key's TTL before; 0: none
		expire expireFunc
		d      time.Duration
		want   bool
		after  ttl
	}{
		{"expire", 0, rdb.Expire, 100 * s, true, hundred},
		{"expire-replaces", 100 * s, rdb.Expire, 50 * s, true, fifty},
		{"pexpire", 0, rdb.PExpire, 1500 * ms, true, short},
		{"expireat", 0, at(rdb.ExpireAt), 100 * s, true, ttl{97 * s, 100 * s}},
		{"pexpireat", 0, at(rdb.PExpireAt), 1500 * ms, true, short},
		{"expire-negative-deletes", 0, rdb.Expire, -s, true, gone},
		{"expire-zero-deletes", 100 * s, rdb.Expire, 0, true, gone},
		{"expireat-past-deletes", 0, at(rdb.ExpireAt), -time.Hour, true, gone},
		{"pexpireat-past-deletes", 100 * s, at(rdb.PExpireAt), -time.Hour, true, gone},

		// NX: only without a TTL. XX: only with one.
		{"nx-persistent", 0, rdb.ExpireNX, 100 * s, true, hundred},
		{"nx-expiring", 100 * s, rdb.ExpireNX, 50 * s, false, hundred},
		{"xx-persistent", 0, rdb.ExpireXX, 100 * s, false, none},
		{"xx-expiring", 100 * s, rdb.ExpireXX, 50 * s, true, fifty},

		// GT and LT take no TTL for an infinite one.
		{"gt-persistent", 0, rdb.ExpireGT, 100 * s, false, none},
		{"gt-greater", 100 * s, rdb.ExpireGT, 200 * s, true, twoHund},
		{"gt-less", 100 * s, rdb.ExpireGT, 50 * s, false, hundred},
		{"lt-persistent", 0, rdb.ExpireLT, 100 * s, true, hundred},
		{"lt-greater", 100 * s, rdb.ExpireLT, 200 * s, false, hundred},
		{"lt-less", 100 * s, rdb.ExpireLT, 50 * s, true, fifty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := "expire:" + c.name
			want(t, rdb.Set(e.ctx, k, "v", c.before), "OK")
			want(t, c.expire(e.ctx, k, c.d), c.want)
			switch {
			case c.after.lo < 0:
				want(t, rdb.PTTL(e.ctx, k), c.after.lo)
			case c.after.hi < 10*s:
				wantTTL(t, rdb.PTTL(e.ctx, k), c.after.lo, c.after.hi)
			default:
				wantTTL(t, rdb.TTL(e.ctx, k), c.after.lo, c.after.hi)
			}
		})
	}
	// Nothing to expire: 0, not an error.
	want(t, rdb.Expire(e.ctx, "expire:missing", time.Minute), false)
	want(t, rdb.PExpire(e.ctx, "expire:missing", time.Minute), false)
}

// checkTTL: go-redis hands -1 (no TTL) and -2 (no key) through as
// durations of -1ns and -2ns, not scaled to seconds.
func checkTTL(t *testing.T, e env) {
	want(t, e.rdb.Set(e.ctx, "ttl:persistent", "v", 0), "OK")
	want(t, e.rdb.Set(e.ctx, "ttl:expiring", "v", 100*time.Second), "OK")
	want(t, e.rdb.TTL(e.ctx, "ttl:missing"), time.Duration(-2))
	want(t, e.rdb.PTTL(e.ctx, "ttl:missing"), time.Duration(-2))
	want(t, e.rdb.TTL(e.ctx, "ttl:persistent"), time.Duration(-1))
	want(t, e.rdb.PTTL(e.ctx, "ttl:persistent"), time.Duration(-1))
	wantTTL(t, e.rdb.TTL(e.ctx, "ttl:expiring"), 98*time.Second, 100*time.Second)
	wantTTL(t, e.rdb.PTTL(e.ctx, "ttl:expiring"), 98*time.Second, 100*time.Second)
}

func checkPersist(t *testing.T, e env) {
	want(t, e.rdb.Set(e.ctx, "persist", "v", 100*time.Second), "OK")
	want(t, e.rdb.Persist(e.ctx, "persist"), true)
	want(t, e.rdb.TTL(e.ctx, "persist"), time.Duration(-1))
	want(t, e.rdb.Persist(e.ctx, "persist"), false)
	want(t, e.rdb.Persist(e.ctx, "persist:missing"), false)
	want(t, e.rdb.Get(e.ctx, "persist"), "v")
}

// checkExpiredKeysVanish gives keys a short TTL by every route a session
// store uses, and checks that past the deadline no command returns them:
// an expired session must never be served, however lazily memory is freed.
func checkExpiredKeysVanish(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	want(t, rdb.FlushDB(ctx), "OK")
	const ttl = 300 * time.Millisecond
	set := []struct {
		key string
		cmd func(k string) redis.Cmder
	}{
		{"vanish:set-px", func(k string) redis.Cmder { return rdb.Set(ctx, k, "v", ttl) }},
		{"vanish:psetex", func(k string) redis.Cmder { return rdb.Do(ctx, "psetex", k, ttl.Milliseconds(), "v") }},
		{"vanish:pexpire", func(k string) redis.Cmder {
			ok(t, rdb.Set(ctx, k, "v", 0))
			return rdb.PExpire(ctx, k, ttl)
		}},
		{"vanish:getex", func(k string) redis.Cmder {
			ok(t, rdb.Set(ctx, k, "v", 0))
			return rdb.GetEx(ctx, k, ttl)
		}},
		{"vanish:set-pxat", func(k string) redis.Cmder {
			return rdb.Do(ctx, "set", k, "v", "pxat", time.Now().Add(ttl).UnixMilli())
		}},
	}
	want(t, rdb.Set(ctx, "vanish:stays", "v", time.Minute), "OK")
	var deadline time.Time
	for _, s := range set {
		sent := time.Now()
		ok(t, s.cmd(s.key))
		// The server's deadline is at most ttl after the reply arrived,
		deadline = time.Now().Add(ttl)
		get := rdb.Get(ctx, s.key)
		// and at least ttl after the command was sent: a GET answered
		// before then sees the value. One answered later proves nothing.
		if time.Since(sent) < ttl {
			want(t, get, "v")
		}
	}
	waitUntil(deadline)
	for _, s := range set {
		wantNil(t, rdb.Get(ctx, s.key))
		want(t, rdb.Exists(ctx, s.key), int64(0))
		want(t, rdb.PTTL(ctx, s.key), time.Duration(-2))
		want(t, rdb.Type(ctx, s.key), "none")
		wantNil(t, rdb.GetDel(ctx, s.key))
	}
	wantStrings(t, "KEYS vanish:*", ok(t, rdb.Keys(ctx, "vanish:*")).Val(), []string{"vanish:stays"})
	wantStrings(t, "SCAN MATCH vanish:*", scanAll(t, e, "vanish:*", 100), []string{"vanish:stays"})
	got := ok(t, rdb.MGet(ctx, "vanish:set-px", "vanish:stays")).Val()
	if len(got) != 2 || got[0] != nil || got[1] != "v" {
		t.Errorf("MGET of an expired and a live key = %#v, want [nil v]", got)
	}
}
