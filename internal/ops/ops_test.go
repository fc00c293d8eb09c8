package ops

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// start opens a store (with a data directory when dir is set) and the
// HTTP listener over it; serve then starts a protocol server and tells the
// listener.
func start(t *testing.T, dir string, mod func(*Config)) (web *Server, st *sessiond.Store, base string, serve func() *server.Server) {
	t.Helper()
	opts := &sessiond.Options{Dir: dir, Fsync: sessiond.FsyncAlways}
	st, err := sessiond.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{Addr: "127.0.0.1:0", Store: st, Version: "test"}
	if mod != nil {
		mod(&cfg)
	}
	web = New(cfg)
	if err := web.Listen(); err != nil {
		t.Fatal(err)
	}
	go web.Serve()
	t.Cleanup(func() { web.Shutdown(context.Background()) })
	serve = func() *server.Server {
		srv := server.New(st, server.Config{Addr: "127.0.0.1:0", RequirePass: cfg.RequirePass})
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		go srv.Serve()
		t.Cleanup(func() { srv.Shutdown(context.Background()) })
		web.Serving(srv)
		return srv
	}
	return web, st, "http://" + web.Addr().String(), serve
}

// get returns the status and body of a GET, with the given Authorization
// header if not empty.
func get(t *testing.T, url, authorization string) (int, string) {
	t.Helper()
	code, _, body := call(t, "GET", url, authorization)
	return code, body
}

// call makes a request, with the given Authorization header if not empty,
// and returns its status, headers and body.
func call(t *testing.T, method, url, authorization string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// TestProbes: /healthz is up from the start (a load or a join may take a
// while) and while stopping, down if the protocol listeners stop; /readyz
// is 200 only while serving and not stopping, with a reason otherwise.
func TestProbes(t *testing.T) {
	web, _, base, serve := start(t, "", nil)
	if code, body := get(t, base+"/healthz", ""); code != 200 || body != "ok: starting\n" {
		t.Errorf("healthz before the server listens: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz", ""); code != 503 || body != `{"ready":false,"reason":"starting: not listening yet"}`+"\n" {
		t.Errorf("readyz before the server listens: %d %q", code, body)
	}
	srv := serve()
	if code, body := get(t, base+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("healthz while serving: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz", ""); code != 200 || body != `{"ready":true}`+"\n" {
		t.Errorf("readyz while serving: %d %q", code, body)
	}
	srv.Shutdown(context.Background())
	if code, body := get(t, base+"/healthz", ""); code != 503 || body != "not accepting connections\n" {
		t.Errorf("healthz after the server stopped unasked: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz", ""); code != 503 || !strings.Contains(body, `"reason":"not accepting connections"`) {
		t.Errorf("readyz after the server stopped unasked: %d %q", code, body)
	}
	web.Stopping()
	if code, body := get(t, base+"/healthz", ""); code != 200 {
		t.Errorf("healthz while stopping: %d %q; want 200 (a probe must not kill a draining process)", code, body)
	}
	if code, body := get(t, base+"/readyz", ""); code != 503 || body != `{"ready":false,"reason":"shutting down"}`+"\n" {
		t.Errorf("readyz while stopping: %d %q", code, body)
	}
}

// TestReadyzLoading: a store that loads its data directory in the
// background is not ready until it has.
func TestReadyzLoading(t *testing.T) {
	dir := t.TempDir()
	st, err := sessiond.Open(&sessiond.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50_000 {
		st.Set(fmt.Sprintf("sess:%d", i), make([]byte, 200), time.Hour)
	}
	st.Close()
	st, err = sessiond.Open(&sessiond.Options{Dir: dir, LoadInBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	web := New(Config{Addr: "127.0.0.1:0", Store: st})
	sawLoading := web.notReady() == "loading the data directory"
	<-st.Loaded()
	if got := web.notReady(); got != "starting: not listening yet" {
		t.Errorf("loaded, not listening: reason %q", got)
	}
	if !sawLoading {
		t.Log("the load was over before the first look (50,000 sessions)")
	}
}

// scrape returns the metrics, parsed by Prometheus's own text parser, after
// checking them with its linter (promtool check metrics).
func scrape(t *testing.T, base, authorization string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics", authorization)
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the metric named name with the given labels
// (name=value pairs), failing the test if there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

// TestMetrics: the figures follow what the store and the server did, and
// pass Prometheus's linter.
func TestMetrics(t *testing.T) {
	_, st, base, serve := start(t, t.TempDir(), nil)
	srv := serve()
	for i := range 100 {
		if err := st.Set(fmt.Sprintf("sess:%d", i), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	sendInline(t, srv, "GET sess:1", "GET nope", "GET", "SET k v EX x")
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, base, "")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sessiond_sessions", nil, 100},
		{"sessiond_sessions_expiring", nil, 100},
		{"sessiond_connections", []string{"protocol", "redis"}, 1},
		{"sessiond_connections", []string{"protocol", "memcache"}, 0},
		{"sessiond_connections_received_total", nil, 1},
		{"sessiond_commands_total", nil, 4}, // the GET refused for its arity is not counted, as in Redis
		{"sessiond_command_duration_seconds", []string{"protocol", "redis", "command", "get"}, 2},
		{"sessiond_command_rejections_total", []string{"protocol", "redis", "command", "get"}, 1},
		{"sessiond_command_failures_total", []string{"protocol", "redis", "command", "set"}, 1},
		{"sessiond_error_replies_total", []string{"protocol", "redis", "kind", "ERR"}, 2},
		{"sessiond_keyspace_hits_total", nil, 1},
		{"sessiond_keyspace_misses_total", nil, 1},
		{"sessiond_serving", nil, 1},
		{"sessiond_persistence_enabled", nil, 1},
		{"sessiond_persistence_write_ok", nil, 1},
		{"sessiond_build_info", []string{"version", "test"}, 1},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(t, fams, "sessiond_persistence_fsync_duration_seconds"); got < 1 {
		t.Errorf("the fsync histogram counts %v flushes after a commit", got)
	}
	if got := value(t, fams, "sessiond_memory_used_bytes"); got <= 0 {
		t.Errorf("memory used %v", got)
	}
	for _, name := range []string{"process_cpu_seconds_total", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no %s: the process and Go collectors are missing", name)
		}
	}
	if fams["sessiond_cluster_ready"] != nil {
		t.Error("a single server exports cluster metrics")
	}
}

// TestAuth: with a password, every endpoint but the probes asks for it, as
// basic authentication (any user name) or a bearer token; pprof is served
// only when asked for.
func TestAuth(t *testing.T) {
	_, _, base, serve := start(t, "", func(c *Config) { c.RequirePass = "s3cret"; c.Pprof = true })
	serve()
	basic := func(user, pass string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/metrics", "", 401},
		{"/metrics", basic("default", "wrong"), 401},
		{"/metrics", "Bearer wrong", 401},
		{"/metrics", "Bearer s3cret", 200},
		{"/metrics", basic("default", "s3cret"), 200},
		{"/metrics", basic("", "s3cret"), 200},
		{"/debug/pprof/", "", 401},
		{"/debug/pprof/", "Bearer s3cret", 200},
		{"/nothing", "Bearer s3cret", 404},
	} {
		if code, body := get(t, base+c.path, c.auth); code != c.want {
			t.Errorf("GET %s with %q: %d, want %d: %.80s", c.path, c.auth, code, c.want, body)
		}
	}
	scrape(t, base, "Bearer s3cret")

	_, _, base, _ = start(t, "", nil)
	if code, _ := get(t, base+"/debug/pprof/", ""); code != 404 {
		t.Errorf("pprof without Pprof: %d, want 404", code)
	}
	if code, _ := get(t, base+"/metrics", ""); code != 200 {
		t.Errorf("metrics without a password: %d, want 200", code)
	}
}

// TestClusterMetrics: a node exports its members by state, the members
// expected and the cluster's state, and each peer's stream, and counts what
// it applied from them.
func TestClusterMetrics(t *testing.T) {
	open := func(name, join string) (*sessiond.Store, *cluster.Node) {
		cfg := cluster.Config{NodeName: name, BindAddr: "127.0.0.1:0", ClusterName: "ops", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if join != "" {
			cfg.Join = []string{join}
		}
		st, n, err := cluster.Open(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(); st.Close() })
		return st, n
	}
	stA, a := open("a", "")
	stB, b := open("b", a.GossipAddr())
	web := New(Config{Addr: "127.0.0.1:0", Store: stA, Node: a})
	if err := web.Listen(); err != nil {
		t.Fatal(err)
	}
	go web.Serve()
	defer web.Shutdown(context.Background())
	base := "http://" + web.Addr().String()
	testkit.Eventually(t, 10*time.Second, "b ready", b.Ready)
	testkit.Eventually(t, 10*time.Second, "a streams to b", func() bool {
		for _, m := range a.Status().Members {
			if m.Name == "b" && m.Connected {
				return true
			}
		}
		return false
	})
	for i := range 10 {
		if err := stB.Set(fmt.Sprintf("k%d", i), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, "a holds b's writes", func() bool { n, _ := stA.Len(); return n == 10 })

	fams := scrape(t, base, "")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sessiond_cluster_ready", nil, 1},
		{"sessiond_cluster_members", []string{"state", "alive"}, 2},
		{"sessiond_cluster_members", []string{"state", "failed"}, 0},
		{"sessiond_cluster_members_expected", nil, 1}, // a started the cluster: no --join
		{"sessiond_cluster_state", []string{"state", "ok"}, 1},
		{"sessiond_cluster_state", []string{"state", "degraded"}, 0},
		{"sessiond_cluster_state", []string{"state", "fail"}, 0},
		{"sessiond_cluster_peer_connected", []string{"peer", "b"}, 1},
		{"sessiond_cluster_peer_state", []string{"peer", "b", "state", "alive"}, 1},
		{"sessiond_cluster_peer_state", []string{"peer", "b", "state", "failed"}, 0},
		{"sessiond_cluster_applied_records_total", nil, 10},
		{"sessiond_sessions", nil, 10},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestShutdownBounded: a request under way (a 10 s profile) does not hold
// the shutdown past its context.
func TestShutdownBounded(t *testing.T) {
	st, err := sessiond.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	web := New(Config{Addr: "127.0.0.1:0", Store: st, Pprof: true})
	if err := web.Listen(); err != nil {
		t.Fatal(err)
	}
	go web.Serve()
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + web.Addr().String() + "/debug/pprof/profile?seconds=10")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the profile is under way
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := web.Shutdown(ctx); err == nil {
		t.Error("Shutdown returned nil with a profile under way")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Shutdown took %v with a 200ms context", took)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the profile's connection was not closed by Shutdown")
	}
}
