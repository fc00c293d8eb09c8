package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// chromium returns the path of Debian's chromium. Without it the test is
// skipped when not root, and fails as root: scripts/setup-servers.sh,
// run as root by the test command, installs it.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Skip("chromium is not installed and the test is not root: skipping the status page's browser test (scripts/setup-servers.sh installs Debian's chromium when run as root)")
	}
	t.Fatal("chromium is not installed; scripts/setup-servers.sh should have installed it (apt-get install chromium)")
	return ""
}

// artifacts returns the directory for the test's screenshots:
// $TEST_ARTIFACTS/statuspage if TEST_ARTIFACTS is set, else testdata-out
// beside this file (ignored by git). Either way it is kept after the test.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := "testdata-out"
	if a := os.Getenv("TEST_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "statuspage")
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless chromium with the flags this machine needs (no
// sandbox as root, no GPU, nothing fetched in the background) and a
// fresh profile, and returns a tab that sends authorization, if not
// empty, with every request. problems collects, from then on, the
// console's errors, the page's exceptions and failed requests.
func browser(t *testing.T, authorization string) (ctx context.Context, problems func() []string) {
	t.Helper()
	profile, err := os.MkdirTemp("", "sessiond-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })

	// Open the tab first, so that the listener misses none of its events.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	var mu sync.Mutex
	var seen []string
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf(format, args...))
	}
	err = chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			switch e.Type {
			case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
				var args []string
				for _, a := range e.Args {
					args = append(args, a.Description+string(a.Value))
				}
				note("console.%s: %s", e.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			note("exception at %s:%d: %s %s", d.URL, d.LineNumber, d.Text, desc)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				note("browser log (%s, %s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventLoadingFailed:
			note("request failed: %s (%s, blocked: %q)", e.ErrorText, e.Type, e.BlockedReason)
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				note("%s answered %d", e.Response.URL, e.Response.Status)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		func() error { _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); return err }(),
		func() error { _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); return err }(),
		func() error { _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); return err }(),
		func() error {
			if authorization == "" {
				return nil
			}
			_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": authorization}})
			return err
		}(),
	} {
		if err != nil {
			t.Fatalf("setting chromium up: %v", err)
		}
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// shownMember is what the page shows of one member, read from its DOM.
type shownMember struct {
	Name, State, NoFigs       string
	Self                      bool
	Sessions, Clients, CPS    string
	Memory, MemoryBar         string // the text, and the bar's width
	Chart                     bool   // a drawn series
	Persist, Snapshot, Writes string
	Peers                     []shownPeer
}

// shownPeer is a row of a member's replication table.
type shownPeer struct{ Name, Stream, LagRecords, LagSeconds string }

// shownPage is what the page shows.
type shownPage struct {
	Status, Sub, Banner string
	Members             []shownMember
}

// readPage reads the page's DOM: every figure as the page writes it.
const readPage = `(() => {
  const txt = (root, sel) => { const e = root.querySelector(sel); return e ? e.textContent : ""; };
  return {
    Status: document.body.dataset.status, Sub: txt(document, "#sub"),
    Banner: getComputedStyle(document.getElementById("banner")).display === "none" ? "" : txt(document, "#banner"),
    Members: [...document.querySelectorAll("section.card")].map(c => ({
      Name: txt(c, ".name"), State: txt(c, ".state"), Self: c.classList.contains("self"),
      Sessions: txt(c, ".fig .sessions"), Clients: txt(c, ".fig .clients"), CPS: txt(c, ".fig .cps"),
      Memory: txt(c, ".mem-text"), MemoryBar: (c.querySelector(".bar > div") || {style: {}}).style.width || "",
      Chart: !!c.querySelector(".chart svg path.series"),
      Persist: txt(c, ".persist-state"), Snapshot: txt(c, ".last-snapshot"), Writes: txt(c, ".write-ok"),
      NoFigs: txt(c, ".nofigs"),
      Peers: [...c.querySelectorAll("tr.peer")].map(r => ({Name: r.dataset.peer, Stream: txt(r, "td:nth-child(2)"),
        LagRecords: txt(r, ".lag-records"), LagSeconds: txt(r, ".lag-seconds")})),
    })),
  };
})()`

// read returns what the page shows now.
func read(t *testing.T, ctx context.Context) shownPage {
	t.Helper()
	p, err := chromedp.Run(ctx, chromedp.Evaluate[shownPage](readPage))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return p
}

// screenshot saves the whole page as dir/name.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestStatusPage opens a three-node cluster's status page in headless
// chromium: it shows every member with its state and figures (the
// sessions written, memory against each cap, replication to each peer,
// persistence), a chart of this node's commands per second, with no
// console error nor failed request; a member that goes away shows as
// such, and when the node serving the page goes, the page says its
// figures are stale.
func TestStatusPage(t *testing.T) {
	const pass = "status-page-pass"
	out := artifacts(t)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("operator:"+pass))
	ctx, problems := browser(t, auth)

	common := []string{"--http-addr", "127.0.0.1:0", "--requirepass", pass}
	start := func(name, join string, extra ...string) *node {
		s := harness.Start(t, append(append(nodeArgs(name, "127.0.0.1:0", join), common...), extra...)...)
		nd := asNode(t, name, s)
		nd.rdb = redis.NewClient(&redis.Options{Addr: s.Addr, Password: pass, MaxRetries: -1, DialTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, PoolSize: 4})
		t.Cleanup(func() { nd.rdb.Close() })
		return nd
	}
	n0 := start("n0", "", "--dir", t.TempDir(), "--maxmemory", "64mb")
	n1 := start("n1", n0.Gossip)
	// n2's name is markup: the page must show it as text, and run none
	// of it (an image that loaded or a handler that ran would be a failed
	// request or a console error).
	const n2Name = `n2<img src=x onerror="console.error('the name ran as markup')">&amp;`
	n2 := start(n2Name, n0.Gossip, "--maxmemory", "32mb")
	nodes := []*node{n0, n1, n2}
	for _, nd := range nodes {
		nd.waitReady(t, 3)
	}

	// 300 sessions through n0 and 50 through n1: every node holds 350.
	const sessions = 350
	for i := range sessions {
		nd := n0
		if i >= 300 {
			nd = n1
		}
		if err := nd.rdb.Set(harness.Context(t, 10*time.Second), fmt.Sprintf("sess:%d", i), strings.Repeat("x", 200), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range nodes {
		testkit.Eventually(t, 20*time.Second, nd.name+" holds every session", func() bool {
			n, err := nd.rdb.DBSize(harness.Context(t, 5*time.Second)).Result()
			return err == nil && n == sessions
		})
	}
	if err := n0.rdb.BgSave(harness.Context(t, 10*time.Second)).Err(); err != nil {
		t.Fatal(err)
	}
	// Reads on n0 while the page is open, for its chart.
	stopReads, readsDone := make(chan struct{}), make(chan struct{})
	var once sync.Once
	endReads := func() { once.Do(func() { close(stopReads); <-readsDone }) }
	defer endReads()
	go func() {
		defer close(readsDone)
		for i := 0; ; i++ {
			select {
			case <-stopReads:
				return
			case <-time.After(5 * time.Millisecond):
			}
			n0.rdb.Get(context.Background(), fmt.Sprintf("sess:%d", i%sessions))
		}
	}()

	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+n0.HTTP+"/")); err != nil {
		t.Fatalf("opening the status page: %v", err)
	}
	var page shownPage
	testkit.Eventually(t, 30*time.Second, "the page shows three members with their figures and n0's chart", func() bool {
		page = read(t, ctx)
		if page.Status != "ok" || len(page.Members) != 3 {
			return false
		}
		for _, m := range page.Members {
			if m.Sessions != "350" || len(m.Peers) != 2 || (m.Self && !m.Chart) {
				return false
			}
			for _, p := range m.Peers {
				if p.Stream != "up" || p.LagRecords != "0" {
					return false
				}
			}
		}
		return true
	})
	shown, _ := json.MarshalIndent(page, "", "  ")
	t.Logf("the page shows:\n%s", shown)
	screenshot(t, ctx, out, "status-page.png")
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged problems:\n%s", strings.Join(p, "\n"))
	}

	if !strings.Contains(page.Sub, "3 members") || !strings.Contains(page.Sub, "3 alive") || !strings.Contains(page.Sub, "seen from n0") {
		t.Errorf("the header says %q", page.Sub)
	}
	byName := map[string]shownMember{}
	for _, m := range page.Members {
		byName[m.Name] = m
	}
	for _, want := range []struct {
		name, memory, persist string
		self, capped          bool
	}{
		{"n0", " of 64.0 MiB (", "on", true, true},
		{"n1", " used, no cap (--maxmemory 0)", "off: in memory only (no --dir)", false, false},
		{n2Name, " of 32.0 MiB (", "off: in memory only (no --dir)", false, true},
	} {
		m, ok := byName[want.name]
		if !ok {
			t.Errorf("no card for %s", want.name)
			continue
		}
		if m.State != "alive" || m.Self != want.self || m.NoFigs != "" {
			t.Errorf("%s: state %q, self %v, %q", want.name, m.State, m.Self, m.NoFigs)
		}
		if !strings.Contains(m.Memory, want.memory) || want.capped != (m.MemoryBar != "0px") {
			t.Errorf("%s: memory %q, bar %q; want %q", want.name, m.Memory, m.MemoryBar, want.memory)
		}
		if m.Persist != want.persist {
			t.Errorf("%s: persistence %q, want %q", want.name, m.Persist, want.persist)
		}
		var peers []string
		for _, p := range m.Peers {
			peers = append(peers, p.Name)
		}
		if len(peers) != 2 || strings.Contains(strings.Join(peers, " "), want.name) {
			t.Errorf("%s: peers %v, want the two others", want.name, peers)
		}
	}
	if m := byName["n0"]; !strings.HasSuffix(m.Snapshot, "ago), ok") || m.Writes != "ok" || m.Chart != true {
		t.Errorf("n0: last snapshot %q, writes %q, chart %v", m.Snapshot, m.Writes, m.Chart)
	}
	if m := byName["n0"]; m.CPS == "0" {
		// Reads run at up to 200 a second: the latest sample saw some.
		testkit.Eventually(t, 10*time.Second, "n0's commands per second above 0", func() bool {
			for _, m := range read(t, ctx).Members {
				if m.Name == "n0" {
					return m.CPS != "0"
				}
			}
			return false
		})
	}

	// n2 is killed: the page goes on, and shows n2 without figures, and
	// then, once gossip declares it failed, as failed (a failed member
	// stays listed while the others keep its place in their logs), its
	// figures not asked for.
	n2.kill9(t)
	shotDown := false
	testkit.Eventually(t, 30*time.Second, "the page shows n2 failed", func() bool {
		page = read(t, ctx)
		if page.Status != "ok" {
			return false
		}
		for _, m := range page.Members {
			if m.Name == n2Name {
				if strings.HasPrefix(m.NoFigs, "Figures unavailable: ") && !shotDown {
					screenshot(t, ctx, out, "status-page-member-down.png")
					t.Logf("n2, down: %s %q", m.State, m.NoFigs)
					shotDown = true
				}
				return m.State == "failed" && strings.Contains(m.NoFigs, "gossip says it is failed")
			}
		}
		return false
	})
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged problems with a member down:\n%s", strings.Join(p, "\n"))
	}

	// n0, which serves the page, stops: the page keeps its last figures,
	// marked stale, and says why.
	endReads()
	n0.Cmd.Process.Signal(syscall.SIGTERM)
	n0.waitGone(t, 15*time.Second)
	testkit.Eventually(t, 15*time.Second, "the page says its figures are stale", func() bool {
		page = read(t, ctx)
		return page.Status == "stale" && strings.Contains(page.Banner, "Cannot refresh (cannot reach "+n0.HTTP) &&
			strings.Contains(page.Banner, "The figures below are stale: read at ") && len(page.Members) == 3
	})
	t.Logf("with n0 gone the page says: %s", page.Banner)
	screenshot(t, ctx, out, "status-page-stale.png")
}

// TestStatusPageSingleServer: a server outside a cluster, without a
// password, shows its own card alone.
func TestStatusPageSingleServer(t *testing.T) {
	out := artifacts(t)
	ctx, problems := browser(t, "")
	s := harness.Start(t, "--http-addr", "127.0.0.1:0", "--maxmemory", "16mb")
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { rdb.Close() })
	for i := range 25 {
		if err := rdb.Set(harness.Context(t, 10*time.Second), fmt.Sprintf("sess:%d", i), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+s.HTTP+"/")); err != nil {
		t.Fatalf("opening the status page: %v", err)
	}
	var page shownPage
	testkit.Eventually(t, 15*time.Second, "the page shows the server", func() bool {
		page = read(t, ctx)
		return page.Status == "ok" && len(page.Members) == 1
	})
	screenshot(t, ctx, out, "status-page-single.png")
	m := page.Members[0]
	if page.Sub != "single server" || m.State != "standalone" || !m.Self || m.Sessions != "25" || len(m.Peers) != 0 ||
		!strings.Contains(m.Memory, " of 16.0 MiB (") || m.Persist != "off: in memory only (no --dir)" {
		t.Errorf("the page shows %q and %+v", page.Sub, m)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged problems:\n%s", strings.Join(p, "\n"))
	}
}
