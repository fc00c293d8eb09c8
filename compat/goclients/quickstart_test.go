package goclients

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"
)

// quickstart is the README's Go quick start as a handler: scs sessions
// kept in sessiond through go-redis (compat/readme runs the README's own
// program; this one reads a session through a second app).
func quickstart(addr string) http.Handler {
	client := redis.NewClient(&redis.Options{Addr: addr}) // sessiond's address
	sessions := scs.New()
	sessions.Store = goredisstore.New(client)
	sessions.Lifetime = 24 * time.Hour

	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		sessions.Put(r.Context(), "user", "ada")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(sessions.GetString(r.Context(), "user")))
	})
	return sessions.LoadAndSave(mux)
}

// TestQuickstart runs the quick start's set-up against a real sessiond: a
// session made through one app process is read through another.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	s := startTarget(t, "")
	a := httptest.NewServer(quickstart(s.Addr))
	defer a.Close()
	b := httptest.NewServer(quickstart(s.Addr))
	defer b.Close()

	resp, err := http.Get(a.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) == 0 {
		t.Fatal("no session cookie from /login")
	}
	req, _ := http.NewRequest("GET", b.URL+"/whoami", nil)
	req.AddCookie(cookies[0])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 16)
	n, _ := resp.Body.Read(buf)
	if got := string(buf[:n]); got != "ada" {
		t.Fatalf("the other app read user %q, want %q", got, "ada")
	}
	// And the session is in sessiond, under scs's prefix, with its TTL.
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	ttl, err := c.TTL(context.Background(), "scs:session:"+cookies[0].Value).Result()
	if err != nil || ttl < 23*time.Hour {
		t.Fatalf("TTL of the session key = %v, %v; want about 24h", ttl, err)
	}
}
