package testkit

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"
)

// Browser is an HTTP client with a cookie jar, as a browser is in front
// of a web app that keeps its sessions in the store under test. Unlike
// net/http/cookiejar, the jar keeps sending a cookie after it expires:
// whether a session has ended must be the store's answer, not the
// cookie's. A cookie leaves the jar only when a response clears it (an
// empty value or a negative Max-Age). The jar holds cookies by name alone,
// for whatever host the browser visits: tests run their apps on loopback.
type Browser struct {
	// Client sends the requests. NewBrowser sets one with a 10s timeout,
	// so that an app that does not answer fails the test.
	Client *http.Client

	cookies map[string]string
}

// NewBrowser returns a browser with an empty jar.
func NewBrowser() *Browser {
	return &Browser{Client: &http.Client{Timeout: 10 * time.Second}, cookies: map[string]string{}}
}

// Call sends a request with the jar's cookies, takes into the jar the
// cookies the response sets or clears, and returns the body. The test
// fails unless the response is 200 OK.
func (b *Browser) Call(t testing.TB, method, url string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(b.cookies)) {
		req.AddCookie(&http.Cookie{Name: name, Value: b.cookies[name]})
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, body)
	}
	for _, c := range resp.Cookies() {
		if c.Value == "" || c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return body
}

// Cookie returns the value of the cookie called name, and whether the jar
// holds it.
func (b *Browser) Cookie(name string) (value string, ok bool) {
	value, ok = b.cookies[name]
	return value, ok
}

// Clone returns a browser with the same client and a copy of the jar: a
// copy of a cookie that the original may later lose or change, as a stale
// tab or a replayed request has.
func (b *Browser) Clone() *Browser {
	return &Browser{Client: b.Client, cookies: maps.Clone(b.cookies)}
}
