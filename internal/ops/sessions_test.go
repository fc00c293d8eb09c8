package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/jsonpath"
	"github.com/sessiond/sessiond/server"
)

// startUsers opens a store, with the user index on passport.user unless
// noIndex, and the HTTP listener and a protocol server over it.
func startUsers(t *testing.T, password string, noIndex bool) (*sessiond.Store, string) {
	t.Helper()
	opts := &sessiond.Options{}
	if !noIndex {
		paths, err := jsonpath.Parse("passport.user")
		if err != nil {
			t.Fatal(err)
		}
		opts.UserID = func(v []byte) ([]byte, bool) { return jsonpath.Lookup(v, paths) }
	}
	st, err := sessiond.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	web := New(Config{Addr: "127.0.0.1:0", Store: st, RequirePass: password, Version: "test"})
	if err := web.Listen(); err != nil {
		t.Fatal(err)
	}
	go web.Serve()
	t.Cleanup(func() { web.Shutdown(context.Background()) })
	srv := server.New(st, server.Config{Addr: "127.0.0.1:0", RequirePass: password})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	web.Serving(srv)
	return st, "http://" + web.Addr().String()
}

// passportSession is an express-session value of user, as passport
// writes it.
func passportSession(user string) []byte {
	u, _ := json.Marshal(user)
	return fmt.Appendf(nil, `{"cookie":{"originalMaxAge":86400000,"httpOnly":true,"path":"/"},"passport":{"user":%s}}`, u)
}

// listed decodes GET /sessions's answer, checking its shape.
func listed(t *testing.T, base, user string) sessionsDoc {
	t.Helper()
	code, h, body := call(t, "GET", base+"/sessions?user="+url.QueryEscape(user), "")
	if code != 200 || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /sessions?user=%s: %d, Content-Type %q, Cache-Control %q: %s", user, code, h.Get("Content-Type"), h.Get("Cache-Control"), body)
	}
	// The exact field names and types, not only what decodes.
	var raw struct {
		User     string           `json:"user"`
		Sessions []map[string]any `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil || raw.Sessions == nil {
		t.Fatalf("GET /sessions: %v, or no sessions array: %s", err, body)
	}
	for _, s := range raw.Sessions {
		_, k := s["key"].(string)
		_, ttl := s["ttl_ms"].(float64)
		_, w := s["written"].(string)
		_, sz := s["size"].(float64)
		if len(s) != 4 || !k || !ttl || !w || !sz {
			t.Fatalf("a session is not {key, ttl_ms, written, size} of string, number, string, number: %v", s)
		}
	}
	var doc sessionsDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.User != user {
		t.Errorf("user = %q, want %q", doc.User, user)
	}
	return doc
}

var writtenRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestSessionsList(t *testing.T) {
	st, base := startUsers(t, "", false)
	const alice = "alice & co" // a query that needs escaping
	before := time.Now().Truncate(time.Millisecond)
	// Written a few ms apart, so that the order is by write time, not key.
	writes := []struct {
		key  string
		user string
		ttl  time.Duration
	}{
		{"sess:c", alice, time.Hour},
		{"sess:a", alice, 0},
		{"sess:bob", "bob", time.Hour},
		{"sess:b", alice, 10 * time.Minute},
	}
	for _, w := range writes {
		if err := st.Set(w.key, passportSession(w.user), w.ttl); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond)
	}
	st.Set("sess:anonymous", []byte(`{"cookie":{}}`), time.Hour)
	st.Set("sess:binary", []byte{0xff, 0x00}, time.Hour)
	after := time.Now()

	doc := listed(t, base, alice)
	var keys []string
	for _, s := range doc.Sessions {
		keys = append(keys, s.Key)
	}
	if got := strings.Join(keys, " "); got != "sess:b sess:a sess:c" {
		t.Fatalf("alice's sessions: %s, want sess:b sess:a sess:c (the most recently written first)", got)
	}
	wantTTL := map[string]time.Duration{"sess:b": 10 * time.Minute, "sess:a": -1, "sess:c": time.Hour}
	var last time.Time
	for i, s := range doc.Sessions {
		if want := wantTTL[s.Key]; want < 0 && s.TTLMS != -1 || want > 0 && (s.TTLMS > want.Milliseconds() || s.TTLMS < (want-time.Minute).Milliseconds()) {
			t.Errorf("%s: ttl_ms %d, want %d or a little less (-1: no expiry)", s.Key, s.TTLMS, want.Milliseconds())
		}
		if len(passportSession(alice)) != s.Size {
			t.Errorf("%s: size %d, want %d", s.Key, s.Size, len(passportSession(alice)))
		}
		w, err := time.Parse(time.RFC3339Nano, s.Written)
		if !writtenRE.MatchString(s.Written) || err != nil || w.Before(before) || w.After(after) {
			t.Errorf("%s: written %q, want RFC 3339 in UTC to the ms, between %v and %v", s.Key, s.Written, before, after)
		}
		if i > 0 && !w.Before(last) {
			t.Errorf("%s written %v, not before the one listed above it (%v)", s.Key, w, last)
		}
		last = w
	}
	if doc := listed(t, base, "bob"); len(doc.Sessions) != 1 || doc.Sessions[0].Key != "sess:bob" {
		t.Errorf("bob's sessions: %+v", doc.Sessions)
	}
	if doc := listed(t, base, "carol"); len(doc.Sessions) != 0 {
		t.Errorf("carol's sessions: %+v, want none", doc.Sessions)
	}
	// A logout: the session stays, without its user.
	st.Set("sess:c", []byte(`{"cookie":{}}`), time.Hour)
	if doc := listed(t, base, alice); len(doc.Sessions) != 2 {
		t.Errorf("after a logout, alice's sessions: %+v, want 2", doc.Sessions)
	}
}

func TestSessionsRevoke(t *testing.T) {
	st, base := startUsers(t, "", false)
	for _, key := range []string{"sess:1", "sess:2", "sess:3", "sess:4"} {
		st.Set(key, passportSession("alice"), time.Hour)
	}
	st.Set("sess:bob", passportSession("bob"), time.Hour)

	revoke := func(query string) revokedDoc {
		t.Helper()
		code, h, body := call(t, "POST", base+"/sessions/revoke?"+query, "")
		var doc revokedDoc
		if code != 200 || h.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &doc) != nil {
			t.Fatalf("POST /sessions/revoke?%s: %d %s", query, code, body)
		}
		if want := `{"user":"` + doc.User + `","revoked":`; !strings.HasPrefix(body, want) {
			t.Errorf("body %q, want %s...", body, want)
		}
		return doc
	}
	if doc := revoke("user=alice&except=sess:2&except=sess:4&except=sess:bob"); doc != (revokedDoc{User: "alice", Revoked: 2}) {
		t.Errorf("revoke but sess:2 and sess:4: %+v, want alice, 2", doc)
	}
	for key, want := range map[string]bool{"sess:1": false, "sess:2": true, "sess:3": false, "sess:4": true, "sess:bob": true} {
		if _, found, err := st.Get(key); err != nil || found != want {
			t.Errorf("after the revoke, %s found %v (%v), want %v", key, found, err, want)
		}
	}
	if doc := listed(t, base, "alice"); len(doc.Sessions) != 2 {
		t.Errorf("alice's sessions after the revoke: %+v, want sess:2 and sess:4", doc.Sessions)
	}
	if doc := revoke("user=alice"); doc.Revoked != 2 {
		t.Errorf("revoke all: %+v, want 2", doc)
	}
	if doc := revoke("user=alice"); doc.Revoked != 0 {
		t.Errorf("revoke again: %+v, want 0", doc)
	}
	if _, found, _ := st.Get("sess:bob"); !found {
		t.Error("bob's session went with alice's")
	}
}

// The routes' errors: no user, a wrong method, no index, a closed store.
func TestSessionsErrors(t *testing.T) {
	st, base := startUsers(t, "", false)
	_, offBase := startUsers(t, "", true)
	for _, tt := range []struct {
		method, url string
		code        int
		body        string // a part of it
	}{
		{"GET", base + "/sessions", 400, "?user=ID"},
		{"GET", base + "/sessions?user=", 400, "?user=ID"},
		{"POST", base + "/sessions/revoke", 400, "?user=ID"},
		{"POST", base + "/sessions/revoke?except=sess:1", 400, "?user=ID"},
		{"GET", base + "/sessions/revoke?user=alice", 405, ""},
		{"POST", base + "/sessions?user=alice", 405, ""},
		{"GET", offBase + "/sessions?user=alice", 409, errIndexOff},
		{"POST", offBase + "/sessions/revoke?user=alice", 409, errIndexOff},
	} {
		t.Run(tt.method+" "+strings.TrimPrefix(strings.TrimPrefix(tt.url, base), offBase), func(t *testing.T) {
			code, h, body := call(t, tt.method, tt.url, "")
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("%d %q, want %d and %q", code, body, tt.code, tt.body)
			}
			if code == 405 && h.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
	st.Set("sess:1", passportSession("alice"), time.Hour)
	st.Close()
	for _, method := range []string{"GET", "POST"} {
		path := map[string]string{"GET": "/sessions", "POST": "/sessions/revoke"}[method]
		if code, _, body := call(t, method, base+path+"?user=alice", ""); code != 503 || !strings.Contains(body, sessiond.ErrClosed.Error()) {
			t.Errorf("%s %s on a closed store: %d %q, want 503 and the store's error", method, path, code, body)
		}
	}
}

// With --requirepass, both routes ask for it, as /metrics does: session
// keys are session ids.
func TestSessionsAuth(t *testing.T) {
	st, base := startUsers(t, "s3cret", false)
	st.Set("sess:1", passportSession("alice"), time.Hour)
	st.Set("sess:2", passportSession("alice"), time.Hour)
	basic := func(user, pass string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	for _, tt := range []struct {
		method, path, auth string
		code               int
	}{
		{"GET", "/sessions?user=alice", "", 401},
		{"GET", "/sessions?user=alice", "Bearer wrong", 401},
		{"GET", "/sessions?user=alice", basic("default", "wrong"), 401},
		{"POST", "/sessions/revoke?user=alice", "", 401},
		{"POST", "/sessions/revoke?user=alice", basic("x", "wrong"), 401},
		{"GET", "/sessions?user=alice", "Bearer s3cret", 200},
		{"GET", "/sessions?user=alice", basic("anyone", "s3cret"), 200},
		{"POST", "/sessions/revoke?user=alice&except=sess:2", "Bearer s3cret", 200},
	} {
		code, _, body := call(t, tt.method, base+tt.path, tt.auth)
		if code != tt.code {
			t.Errorf("%s %s with %q: %d %q, want %d", tt.method, tt.path, tt.auth, code, body, tt.code)
		}
		if code == 401 && strings.Contains(body, "sess:") {
			t.Errorf("%s %s: a 401 that shows a key: %q", tt.method, tt.path, body)
		}
	}
	// Only the authorized revoke ran.
	if n, err := st.CountUserSessions("alice"); err != nil || n != 1 {
		t.Errorf("alice has %d sessions (%v), want 1: sess:2", n, err)
	}
}
