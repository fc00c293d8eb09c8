package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// getStatus GETs /status.json and decodes it, failing the test unless it
// answers 200.
func getStatus(t *testing.T, base, authorization string) statusDoc {
	t.Helper()
	code, body := get(t, base+"/status.json", authorization)
	if code != 200 {
		t.Fatalf("GET /status.json: %d %s", code, body)
	}
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("GET /status.json: %v\n%s", err, body)
	}
	return doc
}

// sendInline sends srv inline commands then PING on a connection it
// leaves open until the test ends, and waits for the PONG.
func sendInline(t *testing.T, srv *server.Server, commands ...string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	io.WriteString(nc, strings.Join(append(commands, "PING"), "\r\n")+"\r\n")
	buf := make([]byte, 64)
	for got := ""; !strings.HasSuffix(got, "+PONG\r\n"); {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	return nc
}

// TestStatusJSON: /status.json has this node's figures, as the store and
// the server have them, and its history; a single server has no cluster.
func TestStatusJSON(t *testing.T) {
	_, st, base, serve := start(t, t.TempDir(), nil)
	srv := serve()
	for i := range 40 {
		if err := st.Set(fmt.Sprintf("sess:%d", i), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	st.Set("forever", []byte("v"), 0)
	sendInline(t, srv, "GET sess:1")
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}

	doc := getStatus(t, base, "")
	n := doc.Node
	stats := st.Stats()
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"ready", n.Ready, true},
		{"not_ready", n.NotReady, ""},
		{"serving", n.Serving, true},
		{"version", n.Version, "test"},
		{"sessions", n.Sessions, int64(41)},
		{"sessions_expiring", n.SessionsExpiring, int64(40)},
		{"memory_used_bytes", n.MemoryUsed, int64(stats.UsedMemory)},
		{"memory_max_bytes", n.MemoryMax, int64(stats.MaxMemory)},
		{"clients", n.Clients, int64(1)},
		{"commands_total", n.Commands, int64(2)},
		{"persistence.enabled", n.Persistence.Enabled, true},
		{"persistence.write_ok", n.Persistence.WriteOK, true},
		{"persistence.last_snapshot_ok", n.Persistence.LastSnapshotOK, true},
		{"history.interval_seconds", doc.History.IntervalSeconds, 2.0},
		{"history.window_seconds", doc.History.WindowSeconds, 300.0},
		{"peers", len(n.Peers), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if at, err := time.Parse(time.RFC3339, n.Persistence.LastSnapshot); err != nil || time.Since(at) > time.Minute {
		t.Errorf("persistence.last_snapshot = %q (%v), want the snapshot just taken", n.Persistence.LastSnapshot, err)
	}
	if n.Name == "" || n.Time == "" || n.UptimeSeconds <= 0 {
		t.Errorf("name %q, time %q, uptime %v: want them set", n.Name, n.Time, n.UptimeSeconds)
	}
	if doc.Cluster != nil {
		t.Errorf("a single server has a cluster: %+v", doc.Cluster)
	}
	// The document's field names are those the page and the docs use.
	_, body := get(t, base+"/status.json", "")
	for _, name := range []string{`"node":`, `"history":`, `"samples":[]`, `"sessions":41`, `"memory_max_bytes":`, `"commands_per_second":`,
		`"persistence":{"enabled":true`, `"last_snapshot":`, `"log_bytes":`, `"write_ok":true`, `"peers":[]`} {
		if !strings.Contains(body, name) {
			t.Errorf("/status.json has no %s: %s", name, body)
		}
	}
	code, body := get(t, base+"/status/node.json", "")
	var own nodeFigures
	if err := json.Unmarshal([]byte(body), &own); code != 200 || err != nil || own.Sessions != 41 || own.Name != n.Name {
		t.Errorf("/status/node.json: %d %v %s", code, err, body)
	}
}

// TestStatusPage: / is the embedded page, with a policy that lets it load
// nothing from elsewhere, and the page refers to nothing outside itself
// but the JSON.
func TestStatusPage(t *testing.T) {
	_, _, base, _ := start(t, "", nil)
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || string(body) != string(statusPage) {
		t.Fatalf("GET /: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'sha256-", "style-src 'sha256-", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}
	// Anything the page could fetch: an address or a reference to a file.
	page := string(statusPage)
	for _, m := range regexp.MustCompile(`(?i:(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"'\s]*)|\b(src|href)\s*=\s*["'][^"']*["']|@import|url\(`).FindAllString(page, -1) {
		if m != "http://www.w3.org/2000/svg" && m != `href="data:,"` {
			t.Errorf("the page refers to %q: it must fetch nothing but status.json", m)
		}
	}
	if strings.Contains(page, "innerHTML") || strings.Contains(page, "insertAdjacentHTML") || strings.Contains(page, "document.write") {
		t.Error("the page writes markup from strings: the server's strings must go in as text")
	}
	for _, path := range []string{"/index.html", "/status.html", "/x"} {
		if code, _ := get(t, base+path, ""); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}

// TestStatusAuth: the page and both documents ask for the password, as
// /metrics does.
func TestStatusAuth(t *testing.T) {
	_, _, base, serve := start(t, "", func(c *Config) { c.RequirePass = "s3cret" })
	serve()
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("anyone", "s3cret")
	basic := req.Header.Get("Authorization")
	for _, path := range []string{"/", "/status.json", "/status/node.json"} {
		for _, c := range []struct {
			auth string
			want int
		}{{"", 401}, {"Bearer wrong", 401}, {"Bearer s3cret", 200}, {basic, 200}} {
			if code, body := get(t, base+path, c.auth); code != c.want {
				t.Errorf("GET %s with %q: %d, want %d: %.80s", path, c.auth, code, c.want, body)
			}
		}
	}
}

// TestHistoryRing: the ring keeps the latest rates up to its size, oldest
// first, and reads a counter that fell back (CONFIG RESETSTAT) as reset.
func TestHistoryRing(t *testing.T) {
	h := newHistory(5)
	t0 := time.Unix(1000, 0)
	if len(h.rates()) != 0 {
		t.Fatal("a new history has rates")
	}
	h.sample(t0, 100) // the first sample has no rate: nothing before it
	if got := h.rates(); len(got) != 0 {
		t.Fatalf("one sample gives rates %v", got)
	}
	total := int64(100)
	for i := 1; i <= 12; i++ {
		total += int64(i) * 10 // i*10 commands in 2 s: i*5 per second
		h.sample(t0.Add(time.Duration(i)*2*time.Second), total)
	}
	got := h.rates()
	if len(got) != 5 {
		t.Fatalf("%d rates held, want the ring's 5", len(got))
	}
	for k, r := range got {
		i := 8 + k
		if want := float64(i * 5); r.Per != want || !r.At.Equal(t0.Add(time.Duration(i)*2*time.Second)) {
			t.Errorf("rate %d: %v at %v, want %v at sample %d", k, r.Per, r.At, want, i)
		}
	}
	h.sample(t0.Add(26*time.Second), 30) // reset, then 30 commands
	if got := h.rates(); got[4].Per != 15 || got[0].Per != 45 {
		t.Errorf("after a reset: %v, want 15 per second last and the oldest dropped", got)
	}
}

// TestHistorySampled: the listener samples the server's counter on its
// own, and /status.json serves at most the ring's length of samples.
func TestHistorySampled(t *testing.T) {
	st, err := sessiond.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	web := New(Config{Addr: "127.0.0.1:0", Store: st})
	web.history, web.historyEvery = newHistory(3), 20*time.Millisecond
	if err := web.Listen(); err != nil {
		t.Fatal(err)
	}
	go web.Serve()
	defer web.Shutdown(context.Background())
	base := "http://" + web.Addr().String()
	if doc := getStatus(t, base, ""); len(doc.History.Samples) != 0 {
		t.Errorf("samples before the server listens: %v", doc.History.Samples)
	}
	srv := server.New(st, server.Config{Addr: "127.0.0.1:0"})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	web.Serving(srv)
	nc := sendInline(t, srv)
	for range 20 {
		io.WriteString(nc, "PING\r\n")
		time.Sleep(10 * time.Millisecond)
	}
	var doc statusDoc
	testkit.Eventually(t, 5*time.Second, "the ring full", func() bool {
		doc = getStatus(t, base, "")
		return len(doc.History.Samples) == 3
	})
	for range 5 {
		time.Sleep(30 * time.Millisecond)
		if doc = getStatus(t, base, ""); len(doc.History.Samples) != 3 {
			t.Fatalf("%d samples served, want the ring's 3", len(doc.History.Samples))
		}
	}
	if doc.History.IntervalSeconds != 0.02 || doc.History.WindowSeconds != 0.06 {
		t.Errorf("interval %v s, window %v s; want 0.02 and 0.06", doc.History.IntervalSeconds, doc.History.WindowSeconds)
	}
	var prev time.Time
	for _, s := range doc.History.Samples {
		at, err := time.Parse(time.RFC3339Nano, s.Time)
		if err != nil || !at.After(prev) || s.Rate < 0 {
			t.Errorf("samples %v: not in order, or a bad rate", doc.History.Samples)
		}
		prev = at
	}
}

// TestClusterStatus: /status.json lists every member with its gossip
// state and the figures it gives, fetched with the request's credentials;
// a member it cannot fetch shows why.
func TestClusterStatus(t *testing.T) {
	const pass = "s3cret"
	type member struct {
		st  *sessiond.Store
		n   *cluster.Node
		web *Server
	}
	open := func(name, join, password string, http bool) member {
		cfg := cluster.Config{NodeName: name, BindAddr: "127.0.0.1:0", ClusterName: "ops", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if join != "" {
			cfg.Join = []string{join}
		}
		n, err := cluster.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := member{n: n}
		if http {
			m.web = New(Config{Addr: "127.0.0.1:0", Node: n, RequirePass: password})
			if err := m.web.Listen(); err != nil {
				t.Fatal(err)
			}
		}
		m.st, err = sessiond.Open(&sessiond.Options{NodeID: n.ID(), Replicator: n, MaxMemory: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background(), m.st); err != nil {
			t.Fatal(err)
		}
		if m.web != nil {
			m.web.cfg.Store = m.st
			go m.web.Serve()
			t.Cleanup(func() { m.web.Shutdown(context.Background()) })
		}
		t.Cleanup(func() { n.Close(); m.st.Close() })
		return m
	}
	a := open("a", "", pass, true)
	b := open("b", a.n.GossipAddr(), pass, true)
	open("c", a.n.GossipAddr(), "", false)
	open("d", a.n.GossipAddr(), "another", true)
	for i := range 25 {
		if err := b.st.Set(fmt.Sprintf("k%d", i), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	base := "http://" + a.web.Addr().String()
	byName := func(doc statusDoc) map[string]memberDoc {
		out := map[string]memberDoc{}
		for _, m := range doc.Cluster.Members {
			out[m.Name] = m
		}
		return out
	}
	var doc statusDoc
	testkit.Eventually(t, 30*time.Second, "four members, b's writes everywhere", func() bool {
		doc = getStatus(t, base, "Bearer "+pass)
		ms := byName(doc)
		return len(ms) == 4 && ms["b"].Figures != nil && ms["a"].Figures.Sessions == 25 && ms["b"].Figures.Sessions == 25 &&
			len(ms["b"].Figures.Peers) == 3
	})
	if doc.Cluster.Name != "ops" || doc.Node.Name != "a" {
		t.Errorf("cluster %q seen from %q", doc.Cluster.Name, doc.Node.Name)
	}
	ms := byName(doc)
	for name, m := range ms {
		if m.State != "alive" || m.Self != (name == "a") {
			t.Errorf("member %s: state %q, self %v", name, m.State, m.Self)
		}
	}
	if m := ms["a"]; m.Figures == nil || m.Figures.MemoryMax != 64<<20 || m.HTTP != a.web.Addr().String() {
		t.Errorf("a, this node: %+v", m)
	}
	if m := ms["b"]; m.Error != "" || m.Figures.Name != "b" || m.HTTP != b.web.Addr().String() || m.Figures.MemoryMax != 64<<20 {
		t.Errorf("b, fetched: %+v", m)
	}
	for _, p := range ms["b"].Figures.Peers {
		if p.State != "alive" {
			t.Errorf("b's peer %s: %+v", p.Name, p)
		}
	}
	if m := ms["c"]; m.Figures != nil || !strings.Contains(m.Error, "advertises no HTTP listener") {
		t.Errorf("c, without an HTTP listener: %+v", m)
	}
	if m := ms["d"]; m.Figures != nil || m.Error != errNoCredentials.Error() {
		t.Errorf("d, with another password: %+v", m)
	}

	b.web.Shutdown(context.Background())
	doc = getStatus(t, base, "Bearer "+pass)
	if m := byName(doc)["b"]; m.Figures != nil || !strings.Contains(m.Error, "cannot reach "+b.web.Addr().String()) || m.State != "alive" {
		t.Errorf("b, its listener stopped: %+v", m)
	}
}
