package goclients

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/sessiond/sessiond/compat/harness"
)

// env is what a go-redis check works with.
type env struct {
	ctx context.Context
	rdb *redis.Client
	srv *harness.Server
	v   variant
}

// check is one behaviour go-redis relies on. Checks of one variant run in
// order on one server and use their own keys; the few that need an empty
// keyspace flush it first.
type check struct {
	name string
	run  func(t *testing.T, e env)
}

// goRedisVariants are the ways go-redis users connect: RESP3 is go-redis
// v9's default (HELLO 3), RESP2 what older servers and many deployments
// use; with a password, go-redis authenticates inside HELLO.
var goRedisVariants = []variant{
	{name: "resp3-tcp", protocol: 3},
	{name: "resp2-tcp", protocol: 2},
	{name: "resp3-unix", protocol: 3, unix: true},
	{name: "resp2-unix", protocol: 2, unix: true},
	{name: "resp3-tcp-password", protocol: 3, password: "compat-secret"},
	{name: "resp2-unix-password", protocol: 2, unix: true, password: "compat-secret"},
}

// TestGoRedis runs every go-redis check in every variant, each variant
// against its own server.
func TestGoRedis(t *testing.T) {
	t.Parallel()
	var checks []check
	for _, group := range [][]check{connChecks, stringChecks, expiryChecks, keyspaceChecks, txChecks, errorChecks, operatorChecks, statsChecks} {
		checks = append(checks, group...)
	}
	for _, v := range goRedisVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv := startTarget(t, v.password)
			rdb := newClient(t, clientOptions(srv, v))
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, env{ctx: testContext(t), rdb: rdb, srv: srv, v: v})
				})
			}
		})
	}
}
