package goclients

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
)

// TestGoRedisSessionCommands runs the SESSION.* commands through go-redis
// against the sessiond binary with its default --user-field
// (passport.user), in RESP2 and RESP3, and with the index off.
func TestGoRedisSessionCommands(t *testing.T) {
	t.Parallel()
	if harness.Reference() != "" {
		t.Skip("the SESSION.* commands are sessiond's")
	}
	srv := startTarget(t, "")
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx := testContext(t)
			rdb := newClient(t, clientOptions(srv, variant{protocol: proto}))
			user := fmt.Sprintf("u%d", proto)
			value := fmt.Sprintf(`{"cookie":{"path":"/"},"passport":{"user":%q}}`, user)
			keys := []string{"sess:" + user + "a", "sess:" + user + "b", "sess:" + user + "c"}
			for _, k := range keys {
				want(t, rdb.Set(ctx, k, value, 0), "OK")
			}
			want(t, rdb.Expire(ctx, keys[0], time.Hour), true)

			list := ok(t, rdb.Do(ctx, "SESSION.LIST", user))
			elems, _ := list.Val().([]any)
			if len(elems) != 3 {
				t.Fatalf("SESSION.LIST: %s, want 3 sessions", show(list))
			}
			seen := map[string]bool{}
			for _, e := range elems {
				f := fields(t, e)
				seen[fmt.Sprint(f["key"])] = true
				ttl, _ := f["ttl"].(int64)
				written, _ := f["written"].(int64)
				ttlOK := ttl == -1 // no expiry
				if f["key"] == keys[0] {
					ttlOK = ttl > 3590_000 && ttl <= 3600_000 // ms, as PTTL
				}
				if f["size"] != int64(len(value)) || !ttlOK || time.Since(time.UnixMilli(written)).Abs() > time.Minute {
					t.Errorf("SESSION.LIST element %v: want size %d, written now, ttl about 3600000 for %s and -1 for the others", f, len(value), keys[0])
				}
			}
			for _, k := range keys {
				if !seen[k] {
					t.Errorf("SESSION.LIST: %s missing from %s", k, show(list))
				}
			}
			want(t, rdb.Do(ctx, "SESSION.COUNT", user), any(int64(3)))
			want(t, rdb.Do(ctx, "SESSION.REVOKE", user, "EXCEPT", keys[1]), any(int64(2)))
			want(t, rdb.Exists(ctx, keys...), 1)
			want(t, rdb.Do(ctx, "SESSION.COUNT", user), any(int64(1)))
			wantErr(t, rdb.Do(ctx, "SESSION.REVOKE", user, "EXCEPT"), "ERR syntax error")
		})
	}

	rdb := newClient(t, clientOptions(harness.Start(t, "--user-field", ""), variant{protocol: 3}))
	wantErr(t, rdb.Do(testContext(t), "SESSION.LIST", "u"), "ERR the user index is off (start sessiond with --user-field)")
}

// fields reads a SESSION.LIST element: a map in RESP3, a flat array in
// RESP2.
func fields(t *testing.T, e any) map[string]any {
	t.Helper()
	f := map[string]any{}
	switch e := e.(type) {
	case map[any]any:
		for k, v := range e {
			f[fmt.Sprint(k)] = v
		}
	case []any:
		for i := 0; i+1 < len(e); i += 2 {
			f[fmt.Sprint(e[i])] = e[i+1]
		}
	default:
		t.Fatalf("a SESSION.LIST element is a %T: %v", e, e)
	}
	return f
}
