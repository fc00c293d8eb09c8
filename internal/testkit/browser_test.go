package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
)

// cookieApp sets, expires and clears cookies as its paths say, and
// answers with the cookies the request sent.
func cookieApp(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: r.URL.Query().Get("name"), Value: r.URL.Query().Get("value")})
	})
	mux.HandleFunc("/expired", func(w http.ResponseWriter, r *http.Request) {
		// Expired by its date alone: a browser in front of a session
		// store keeps sending it.
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "old", Expires: time.Now().Add(-time.Hour)})
	})
	mux.HandleFunc("/clear", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", MaxAge: -1})
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var sent []string
		for _, c := range r.Cookies() {
			sent = append(sent, c.Name+"="+c.Value)
		}
		sort.Strings(sent)
		io.WriteString(w, strings.Join(sent, " "))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s.URL
}

func TestBrowser(t *testing.T) {
	app := cookieApp(t)
	b := NewBrowser()
	call := func(b *Browser, path string) string { return string(b.Call(t, "GET", app+path)) }

	call(b, "/set?name=sid&value=s1")
	call(b, "/set?name=theme&value=dark")
	if got, want := call(b, "/"), "sid=s1 theme=dark"; got != want {
		t.Errorf("sent %q, want %q", got, want)
	}
	if v, ok := b.Cookie("sid"); !ok || v != "s1" {
		t.Errorf("Cookie(sid) = %q, %v; want s1", v, ok)
	}

	stale := b.Clone()
	call(b, "/set?name=sid&value=s2")
	if got, want := call(stale, "/"), "sid=s1 theme=dark"; got != want {
		t.Errorf("the clone sent %q after the original's cookie changed, want its own copy %q", got, want)
	}

	call(b, "/expired")
	if got, want := call(b, "/"), "sid=old theme=dark"; got != want {
		t.Errorf("after a cookie expired by date: sent %q, want it still sent: %q", got, want)
	}
	call(b, "/clear")
	if _, ok := b.Cookie("sid"); ok {
		t.Error("a cookie cleared with Max-Age -1 is still in the jar")
	}
	if got, want := call(b, "/"), "theme=dark"; got != want {
		t.Errorf("after the clear: sent %q, want %q", got, want)
	}
}

func TestBrowserFailsUnlessOK(t *testing.T) {
	app := cookieApp(t)
	r := &fatalRecorder{TB: t}
	NewBrowser().Call(r, "GET", app+"/fail")
	if !strings.Contains(r.failure, "500 Internal Server Error: no") {
		t.Errorf("failure %q, want it to name the status and the body", r.failure)
	}
}
