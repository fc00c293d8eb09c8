package goclients

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// scsPrefix is where goredisstore keeps sessions.
const scsPrefix = "scs:session:"

// app is one web application process: its own go-redis client, scs
// session manager and HTTP server. Apps share sessions only through the
// server under test, as processes behind a load balancer do.
type app struct {
	url   string
	sm    *scs.SessionManager
	store *goredisstore.RedisStore
}

func newApp(t *testing.T, srv *harness.Server, lifetime time.Duration) *app {
	t.Helper()
	store := goredisstore.New(newClient(t, clientOptions(srv, variant{protocol: 3})))
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = lifetime
	mux := http.NewServeMux()
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "msg", r.URL.Query().Get("v"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sm.GetString(r.Context(), "msg"))
	})
	mux.HandleFunc("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	hs := httptest.NewServer(sm.LoadAndSave(mux))
	t.Cleanup(hs.Close)
	return &app{url: hs.URL, sm: sm, store: store}
}

// visit GETs path on a with br, which keeps the session cookie the app
// sets past its Expires (whether a session is still there is the store's
// answer, not the cookie's), and returns the body.
func visit(t *testing.T, br *testkit.Browser, a *app, path string) string {
	t.Helper()
	return string(br.Call(t, http.MethodGet, a.url+path))
}

// sessionToken is the session token in br's cookie.
func sessionToken(t *testing.T, br *testkit.Browser) string {
	t.Helper()
	token, ok := br.Cookie("session")
	if !ok {
		t.Fatal("no session cookie")
	}
	return token
}

// TestSCS runs scs with goredisstore in two apps that share the server.
func TestSCS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, srv *harness.Server)
	}{
		{"shared-session", testSCSSharedSession},
		{"expiry", testSCSExpiry},
		{"destroy", testSCSDestroy},
		{"all", testSCSAll},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, startTarget(t, ""))
		})
	}
}

// testSCSSharedSession: a session written by one app is read and changed
// by the other, under one token.
func testSCSSharedSession(t *testing.T, srv *harness.Server) {
	a, b := newApp(t, srv, time.Hour), newApp(t, srv, time.Hour)
	br := testkit.NewBrowser()
	visit(t, br, a, "/put?v=hello")
	token := sessionToken(t, br)
	if got := visit(t, br, b, "/get"); got != "hello" {
		t.Errorf("app B read %q, want the \"hello\" app A wrote", got)
	}
	visit(t, br, b, "/put?v=world")
	if sessionToken(t, br) != token {
		t.Errorf("token changed from %q to %q", token, sessionToken(t, br))
	}
	if got := visit(t, br, a, "/get"); got != "world" {
		t.Errorf("app A read %q, want the \"world\" app B wrote", got)
	}

	// goredisstore wrote the key with the session's lifetime.
	ctx := testContext(t)
	rdb := newClient(t, clientOptions(srv, variant{protocol: 2}))
	want(t, rdb.Exists(ctx, scsPrefix+token), int64(1))
	wantTTL(t, rdb.PTTL(ctx, scsPrefix+token), 59*time.Minute, time.Hour)

	// Another browser has a session of its own.
	if got := visit(t, testkit.NewBrowser(), b, "/get"); got != "" {
		t.Errorf("a new browser read %q, want nothing", got)
	}
}

// testSCSExpiry: past its lifetime a session is gone from every app and
// from the store, even to a browser that still sends the cookie.
func testSCSExpiry(t *testing.T, srv *harness.Server) {
	const lifetime = 500 * time.Millisecond
	a, b := newApp(t, srv, lifetime), newApp(t, srv, lifetime)
	br := testkit.NewBrowser()
	sent := time.Now()
	visit(t, br, a, "/put?v=short")
	// scs set the deadline while handling the request, so by now at the
	// latest, and no earlier than when it was sent.
	deadline := time.Now().Add(lifetime)
	token := sessionToken(t, br)
	got := visit(t, br, b, "/get")
	if time.Since(sent) < lifetime && got != "short" {
		t.Fatalf("app B read %q before expiry, want \"short\"", got)
	}
	waitUntil(deadline)
	if got = visit(t, br, b, "/get"); got != "" {
		t.Errorf("app B read %q after expiry, want nothing", got)
	}
	ctx := testContext(t)
	rdb := newClient(t, clientOptions(srv, variant{protocol: 3}))
	wantNil(t, rdb.Get(ctx, scsPrefix+token))
	all, err := a.store.AllCtx(ctx)
	if err != nil || len(all) != 0 {
		t.Errorf("All after expiry = %d sessions, %v; want none", len(all), err)
	}
}

// testSCSDestroy: a session destroyed through one app is gone for the
// other, even when a stale cookie still names it.
func testSCSDestroy(t *testing.T, srv *harness.Server) {
	a, b := newApp(t, srv, time.Hour), newApp(t, srv, time.Hour)
	br := testkit.NewBrowser()
	visit(t, br, a, "/put?v=secret")
	stale := br.Clone()
	visit(t, br, b, "/destroy")
	if token, ok := br.Cookie("session"); ok {
		t.Errorf("after Destroy the cookie is %q, want it deleted", token)
	}
	ctx := testContext(t)
	rdb := newClient(t, clientOptions(srv, variant{protocol: 3}))
	want(t, rdb.Exists(ctx, scsPrefix+sessionToken(t, stale)), int64(0))
	if got := visit(t, stale, a, "/get"); got != "" {
		t.Errorf("app A read %q with the destroyed session's cookie, want nothing", got)
	}
}

// testSCSAll lists sessions with goredisstore's All (SCAN MATCH prefix*,
// then GET each) and scs's Iterate over it. There are more sessions than
// one SCAN page holds, and keys outside the prefix that must not show.
func testSCSAll(t *testing.T, srv *harness.Server) {
	a, b := newApp(t, srv, time.Hour), newApp(t, srv, time.Hour)
	ctx := testContext(t)
	wantMsgs := map[string]string{}
	for i := range 3 {
		br := testkit.NewBrowser()
		msg := fmt.Sprintf("browser-%d", i)
		visit(t, br, []*app{a, b}[i%2], "/put?v="+msg)
		wantMsgs[sessionToken(t, br)] = msg
	}
	// Sessions other processes committed, straight through the store.
	for i := range 25 {
		token, msg := fmt.Sprintf("direct-token-%02d", i), fmt.Sprintf("direct-%d", i)
		data, err := a.sm.Codec.Encode(time.Now().Add(time.Hour), map[string]any{"msg": msg})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.store.CommitCtx(ctx, token, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("CommitCtx: %v", err)
		}
		wantMsgs[token] = msg
	}
	rdb := newClient(t, clientOptions(srv, variant{protocol: 3}))
	want(t, rdb.MSet(ctx, "sess:other", "x", "scs:session", "x", "scs:sessions:x", "x"), "OK")

	all, err := a.store.AllCtx(ctx)
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	gotMsgs := map[string]string{}
	for token, data := range all {
		_, values, err := a.sm.Codec.Decode(data)
		if err != nil {
			t.Fatalf("session %q: decoding %d bytes: %v", token, len(data), err)
		}
		gotMsgs[token], _ = values["msg"].(string)
	}
	if !maps.Equal(gotMsgs, wantMsgs) {
		t.Errorf("All: %d sessions, want %d\n got tokens: %v\nwant tokens: %v", len(gotMsgs), len(wantMsgs),
			slices.Sorted(maps.Keys(gotMsgs)), slices.Sorted(maps.Keys(wantMsgs)))
	}

	var iterated []string
	err = b.sm.Iterate(ctx, func(ctx context.Context) error {
		iterated = append(iterated, b.sm.GetString(ctx, "msg"))
		return nil
	})
	if err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	if got, want := slices.Sorted(slices.Values(iterated)), slices.Sorted(maps.Values(wantMsgs)); !slices.Equal(got, want) {
		t.Errorf("Iterate saw %v, want %v", got, want)
	}
}
