package goclients

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessiond/sessiond/compat/harness"
)

// A user's sessions through the HTTP routes of the sessiond binary, over
// sessions an express app's connect-redis would write, written by go-redis.
// sessiond only: Redis has no HTTP listener.

// passportValue is an express-session value of user, as passport writes
// it and connect-redis stores it.
func passportValue(user string) string {
	return fmt.Sprintf(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-07T08:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":%q}}`, user)
}

// seedUsers writes alice's three sessions (the last without an expiry), a
// few ms apart, bob's one and an anonymous one, and returns when the
// writes began and ended.
func seedUsers(t *testing.T, rdb *redis.Client) (from, to time.Time) {
	t.Helper()
	ctx := testContext(t)
	from = time.Now().Truncate(time.Millisecond)
	for _, w := range []struct {
		key, user string
		ttl       time.Duration
	}{
		{"sess:a1", "alice", time.Hour},
		{"sess:bob", "bob", time.Hour},
		{"sess:a2", "alice", time.Hour},
		{"sess:a3", "alice", 0},
	} {
		if err := rdb.Set(ctx, w.key, passportValue(w.user), w.ttl).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond) // written in this order, to the ms
	}
	if err := rdb.Set(ctx, "sess:anon", `{"cookie":{"path":"/"}}`, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	return from, time.Now()
}

// TestSessionsHTTP: the HTTP routes of the binary, behind --requirepass,
// over sessions go-redis wrote.
func TestSessionsHTTP(t *testing.T) {
	if harness.Reference() != "" {
		t.Skip("sessiond's own HTTP listener")
	}
	const pass = "s3cret"
	srv := harness.StartEnv(t, []string{"SESSIOND_REQUIREPASS=" + pass}, "--http-addr", "127.0.0.1:0")
	rdb := newClient(t, clientOptions(srv, variant{protocol: 2, password: pass}))
	from, to := seedUsers(t, rdb)
	base := "http://" + srv.HTTP

	call := func(method, path, password string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if password != "" {
			req.SetBasicAuth("", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, body := call("GET", "/sessions?user=alice", ""); code != 401 || strings.Contains(body, "sess:") {
		t.Errorf("GET /sessions without the password: %d %q, want 401 and no key", code, body)
	}
	code, body := call("GET", "/sessions?user=alice", pass)
	var doc struct {
		User     string `json:"user"`
		Sessions []struct {
			Key     string `json:"key"`
			TTLMS   int64  `json:"ttl_ms"`
			Written string `json:"written"`
			Size    int    `json:"size"`
		} `json:"sessions"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &doc) != nil || doc.User != "alice" || len(doc.Sessions) != 3 {
		t.Fatalf("GET /sessions?user=alice: %d %s", code, body)
	}
	for i, want := range []string{"sess:a3", "sess:a2", "sess:a1"} {
		s := doc.Sessions[i]
		w, err := time.Parse(time.RFC3339, s.Written)
		switch {
		case s.Key != want:
			t.Errorf("session %d: %s, want %s (the most recently written first)", i, s.Key, want)
		case want == "sess:a3" && s.TTLMS != -1, want != "sess:a3" && (s.TTLMS > 3_600_000 || s.TTLMS < 3_500_000):
			t.Errorf("%s: ttl_ms %d", s.Key, s.TTLMS)
		case err != nil || w.Before(from) || w.After(to):
			t.Errorf("%s: written %q, want between %v and %v", s.Key, s.Written, from, to)
		case s.Size != len(passportValue("alice")):
			t.Errorf("%s: size %d, want %d", s.Key, s.Size, len(passportValue("alice")))
		}
	}
	if code, body := call("GET", "/sessions/revoke?user=alice", pass); code != 405 {
		t.Errorf("GET /sessions/revoke: %d %q, want 405", code, body)
	}
	if code, body := call("POST", "/sessions/revoke?user=alice&except=sess:a1", pass); code != 200 || body != `{"user":"alice","revoked":2}`+"\n" {
		t.Errorf("POST /sessions/revoke?user=alice&except=sess:a1: %d %q", code, body)
	}
	ctx := testContext(t)
	if n, err := rdb.Exists(ctx, "sess:a1", "sess:a2", "sess:a3", "sess:bob").Result(); err != nil || n != 2 {
		t.Errorf("after the revoke, %d (%v) of sess:a1, a2, a3 and bob exist, want 2: sess:a1 and sess:bob", n, err)
	}
}
