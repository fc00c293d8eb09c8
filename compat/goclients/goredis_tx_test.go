package goclients

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// txChecks cover MULTI/EXEC (scs redisstore writes through it) and
// pipelining, where many commands arrive in one read.
var txChecks = []check{
	{"multi-exec", checkMultiExec},
	{"multi-exec-command-error", checkMultiExecCommandError},
	{"multi-exec-abort", checkMultiExecAbort},
	{"multi-discard", checkMultiDiscard},
	{"pipeline", checkPipeline},
}

// checkMultiExec runs the commands scs redisstore sends in a transaction,
// and reads every reply back from EXEC's array.
func checkMultiExec(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	const k = "tx:session"
	deadline := time.Now().Add(time.Minute)
	var (
		set    *redis.StatusCmd
		expat  *redis.BoolCmd
		get    *redis.StringCmd
		ttl    *redis.DurationCmd
		exists *redis.IntCmd
		del    *redis.IntCmd
		gone   *redis.StringCmd
	)
	cmds, err := rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		set = pipe.Set(ctx, k, "data", 0)
		expat = pipe.PExpireAt(ctx, k, deadline)
		get = pipe.Get(ctx, k)
		ttl = pipe.TTL(ctx, k)
		exists = pipe.Exists(ctx, k)
		del = pipe.Del(ctx, k)
		gone = pipe.Get(ctx, k)
		return nil
	})
	// A nil reply inside EXEC is reported as the pipeline's error.
	if !errors.Is(err, redis.Nil) {
		t.Fatalf("MULTI ... EXEC: err = %v, want redis.Nil from the last GET", err)
	}
	if len(cmds) != 7 {
		t.Fatalf("MULTI ... EXEC: %d replies, want 7", len(cmds))
	}
	want(t, set, "OK")
	want(t, expat, true)
	want(t, get, "data")
	wantTTL(t, ttl, 58*time.Second, 60*time.Second)
	want(t, exists, int64(1))
	want(t, del, int64(1))
	wantNil(t, gone)

	// An empty transaction is an empty array.
	conn := rdb.Conn()
	defer conn.Close()
	want(t, conn.Do(ctx, "multi"), any("OK"))
	got := ok(t, conn.Do(ctx, "exec")).Val()
	if a, isArray := got.([]any); !isArray || len(a) != 0 {
		t.Errorf("EXEC of an empty MULTI = %#v, want an empty array", got)
	}
}

// checkMultiExecCommandError: a command that fails when run (not when
// queued) fails alone; the others in EXEC still apply.
func checkMultiExecCommandError(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	const k = "tx:runtime"
	var set, bad *redis.Cmd
	var get *redis.StringCmd
	_, err := rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		set = pipe.Do(ctx, "set", k, "v")
		bad = pipe.Do(ctx, "expire", k, "not-a-number")
		get = pipe.Get(ctx, k)
		return nil
	})
	wantRedisErr(t, "MULTI ... EXEC", err, "ERR value is not an integer or out of range")
	want(t, set, any("OK"))
	wantErr(t, bad, "ERR value is not an integer or out of range")
	want(t, get, "v")
}

// checkMultiExecAbort: a command refused when queued (here: wrong number
// of arguments) makes EXEC discard the whole transaction.
func checkMultiExecAbort(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	const k = "tx:abort"
	var set, bad *redis.Cmd
	_, err := rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		set = pipe.Do(ctx, "set", k, "v")
		bad = pipe.Do(ctx, "set", k)
		return nil
	})
	wantRedisErr(t, "MULTI ... EXEC", err, "EXECABORT Transaction discarded because of previous errors.")
	wantErr(t, bad, "ERR wrong number of arguments for 'set' command")
	if set.Err() == nil {
		t.Errorf("SET in an aborted transaction: no error, want EXECABORT")
	}
	want(t, rdb.Exists(ctx, k), int64(0))

	// The connection is usable after the abort.
	want(t, rdb.Ping(ctx), "PONG")
}

// checkMultiDiscard drives MULTI, QUEUED replies, DISCARD by hand on one
// connection, and the errors for nesting and for EXEC without MULTI.
func checkMultiDiscard(t *testing.T, e env) {
	ctx := e.ctx
	conn := e.rdb.Conn()
	defer conn.Close()
	const k = "tx:discard"
	want(t, conn.Do(ctx, "multi"), any("OK"))
	wantErr(t, conn.Do(ctx, "multi"), "ERR MULTI calls can not be nested")
	want(t, conn.Do(ctx, "set", k, "v"), any("QUEUED"))
	want(t, conn.Do(ctx, "discard"), any("OK"))
	wantNil(t, conn.Get(ctx, k))
	wantErr(t, conn.Do(ctx, "exec"), "ERR EXEC without MULTI")
	wantErr(t, conn.Do(ctx, "discard"), "ERR DISCARD without MULTI")
}

// checkPipeline sends many commands in one write and checks that every
// reply comes back, in order.
func checkPipeline(t *testing.T, e env) {
	ctx, rdb := e.ctx, e.rdb
	const n = 1000
	sets := make([]*redis.StatusCmd, n)
	gets := make([]*redis.StringCmd, n)
	_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i := range n {
			k := fmt.Sprintf("pipe:%d", i)
			sets[i] = pipe.Set(ctx, k, fmt.Sprintf("value-%d", i), time.Minute)
			gets[i] = pipe.Get(ctx, k)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("pipeline of %d SET+GET: %v", n, err)
	}
	for i := range n {
		want(t, sets[i], "OK")
		want(t, gets[i], fmt.Sprintf("value-%d", i))
	}

	// A second pipeline mixing kinds of replies, errors included: one
	// error does not disturb the replies after it.
	var (
		mget  *redis.SliceCmd
		bad   *redis.Cmd
		del   *redis.IntCmd
		ttl   *redis.DurationCmd
		ping  *redis.StatusCmd
		check *redis.StringCmd
	)
	_, err = rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		mget = pipe.MGet(ctx, "pipe:0", "pipe:missing", "pipe:999")
		bad = pipe.Do(ctx, "get")
		del = pipe.Del(ctx, "pipe:0", "pipe:1")
		ttl = pipe.TTL(ctx, "pipe:0")
		ping = pipe.Ping(ctx)
		check = pipe.Get(ctx, "pipe:2")
		return nil
	})
	wantRedisErr(t, "mixed pipeline", err, "ERR wrong number of arguments for 'get' command")
	if got := mget.Val(); len(got) != 3 || got[0] != "value-0" || got[1] != nil || got[2] != "value-999" {
		t.Errorf("MGET in pipeline = %#v (err %v)", got, mget.Err())
	}
	wantErr(t, bad, "ERR wrong number of arguments for 'get' command")
	want(t, del, int64(2))
	want(t, ttl, time.Duration(-2))
	want(t, ping, "PONG")
	want(t, check, "value-2")
}
