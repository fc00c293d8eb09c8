package ops

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/jsonpath"
)

// TestRevokeHTTPCommitted: the revoke is in the log when its 200 goes out,
// as SESSION.REVOKE's reply is, though the binary's store defers its log
// writes to a commit. The data directory is copied as a kill -9 would
// leave it, right after the answer.
func TestRevokeHTTPCommitted(t *testing.T) {
	dir := t.TempDir()
	paths, _ := jsonpath.Parse("passport.user")
	userID := func(v []byte) ([]byte, bool) { return jsonpath.Lookup(v, paths) }
	st, err := sessiond.Open(&sessiond.Options{Dir: dir, Fsync: sessiond.FsyncAlways, DeferWrites: true, UserID: userID})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, k := range []string{"sess:a", "sess:b", "sess:c"} {
		if err := st.Set(k, passportSession("alice"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	web := New(Config{Addr: "127.0.0.1:0", Store: st, Version: "test"})
	if err := web.Listen(); err != nil {
		t.Fatal(err)
	}
	go web.Serve()
	defer web.Shutdown(context.Background())
	if code, _, body := call(t, "POST", "http://"+web.Addr().String()+"/sessions/revoke?user=alice", ""); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	crash := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	again, err := sessiond.Open(&sessiond.Options{Dir: crash, UserID: userID})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n, _ := again.CountUserSessions("alice"); n != 0 {
		t.Fatalf("after a 200 for the revoke and a crash, alice has %d sessions again", n)
	}
}

// TestSessionsCrossSite: a web page the operator visits cannot make the
// browser revoke sessions, with or without a password the browser has
// cached; a request from a program (no Origin, no Sec-Fetch-Site) can.
func TestSessionsCrossSite(t *testing.T) {
	for _, pass := range []string{"", "secret"} {
		st, base := startUsers(t, pass, false)
		if err := st.Set("sess:a", passportSession("alice"), 0); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", base+"/sessions/revoke?user=alice", nil)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		auth := ""
		if pass != "" {
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+pass))
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("password %q: a cross-site POST answered %d, want 403", pass, resp.StatusCode)
		}
		if n, _ := st.CountUserSessions("alice"); n != 1 {
			t.Errorf("password %q: a cross-site POST revoked alice's session", pass)
		}
		if code, _, body := call(t, "POST", base+"/sessions/revoke?user=alice", auth); code != 200 {
			t.Errorf("password %q: a program's POST answered %d %s", pass, code, body)
		}
	}
}

// TestSessionsProtectedMode: without a password, the routes answer only a
// request that names the host by address or as localhost, as a loopback
// client does; a web page that rebinds its name to 127.0.0.1 sends its own
// name. With --protected-mode no, or a password, the name does not matter.
func TestSessionsProtectedMode(t *testing.T) {
	get := func(base, host string) int {
		req, _ := http.NewRequest("GET", base+"/sessions?user=alice", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	_, base := startUsers(t, "", false)
	for host, want := range map[string]int{"127.0.0.1:8080": 200, "localhost:8080": 200, "LOCALHOST": 200, "[::1]:8080": 200, "evil.example:8080": 403, "evil.example": 403} {
		if got := get(base, host); got != want {
			t.Errorf("Host %s: %d, want %d", host, got, want)
		}
	}
	if code, _, body := call(t, "POST", base+"/sessions/revoke?user=alice", ""); code != 200 {
		t.Errorf("a loopback POST: %d %s", code, body)
	}

	st, err := sessiond.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	web := New(Config{Addr: "127.0.0.1:0", Store: st, ProtectedModeOff: true, Version: "test"})
	if err := web.Listen(); err != nil {
		t.Fatal(err)
	}
	go web.Serve()
	defer web.Shutdown(context.Background())
	if got := get("http://"+web.Addr().String(), "evil.example"); got != http.StatusConflict {
		t.Errorf("protected mode off: %d, want 409 (no index, but served)", got)
	}
}
