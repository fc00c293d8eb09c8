package node

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// The restart tests stop sessiond under a running app and start a new one
// on the same --dir and address. The app process, and so its Redis client,
// lives through the restart: it has to find the new server by itself, and
// the browser's cookie has to find the session it had.

// TestExpressSessionSurvivesRestart: express-session keeps a logged-in
// user across a restart, through node-redis (connect-redis 9) and ioredis
// (connect-redis 7).
func TestExpressSessionSurvivesRestart(t *testing.T) {
	for _, st := range []stack{
		{name: "connect-redis9", app: "express-connect-redis9.js", prefix: "sess:"},
		{name: "connect-redis7-ioredis", app: "express-connect-redis7-ioredis.js", prefix: "sess:"},
	} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testRestart(t, st)
		})
	}
}

// TestKoaSessionSurvivesRestart: koa-generic-session on koa-redis (ioredis
// 4) keeps a logged-in user across a restart, with a password the client
// must send again to the new server.
func TestKoaSessionSurvivesRestart(t *testing.T) {
	testRestart(t, stack{name: "koa-redis-password", app: "koa-redis.js", prefix: "koa:sess:", password: "compat secret"})
}

// testRestart logs a user in through one app process, restarts sessiond
// under it, and checks that the same cookie still finds the session, with
// its data and its TTL, and that the session takes writes again.
func testRestart(t *testing.T, st stack) {
	node := harness.Need(t, "node")
	needModules(t)
	if ref := harness.Reference(); ref != "" {
		t.Skipf("COMPAT_TARGET=%s: the restart is sessiond's (--dir)", ref)
	}
	args := []string{"--dir", t.TempDir()}
	if st.password != "" {
		args = append(args, "--requirepass", st.password)
	}
	first := harness.Start(t, args...)
	app := startApp(t, node, st, first).url(t)
	f := &fixture{st: st, srv: first}

	br := testkit.NewBrowser()
	s := visit(t, br, "POST", app+"/set?k=user&v=alice&ttl=600000")
	visit(t, br, "POST", app+"/set?k=cart&v=3")
	key := st.prefix + s.ID
	if got := visit(t, br, "GET", app+"/get"); got.ID != s.ID || got.Data["user"] != "alice" || got.Data["cart"] != "3" {
		t.Fatalf("before the restart the app read %+v, want id %s with user=alice cart=3", got, s.ID)
	}
	before := f.pttl(t, key)
	measured := time.Now()
	if before <= 0 || before > 600000 {
		t.Fatalf("before the restart: PTTL %s = %d, want 1..600000", key, before)
	}

	stopServer(t, first)
	// The same address, so that the app's client, which only knows that
	// one, reconnects to the new server.
	f.srv = harness.Start(t, append([]string{"--addr", first.Addr}, args...)...)
	waitForApp(t, f)

	// The TTL is the one the session had, less the time the restart took:
	// not renewed by the load, and not lost.
	switch after, elapsed := f.pttl(t, key), time.Since(measured).Milliseconds(); {
	case after == -2:
		t.Errorf("after the restart: %s is gone (PTTL -2)", key)
	case after <= 0 || after > before || after < before-elapsed-1000:
		t.Errorf("after the restart: PTTL %s = %d, want %d less the %dms since", key, after, before, elapsed)
	}
	got := visit(t, br, "GET", app+"/get")
	if got.ID != s.ID || got.Data["user"] != "alice" || got.Data["cart"] != "3" {
		t.Fatalf("after the restart the app read %+v with the same cookie, want id %s with user=alice cart=3", got, s.ID)
	}
	visit(t, br, "POST", app+"/set?k=cart&v=4")
	if got := visit(t, br, "GET", app+"/get"); got.ID != s.ID || got.Data["user"] != "alice" || got.Data["cart"] != "4" {
		t.Fatalf("after an update following the restart the app read %+v, want id %s with user=alice cart=4", got, s.ID)
	}
}

// stopServer sends srv SIGTERM and waits for the process to exit. (The
// harness reaps it; once it has, signalling the process reports it done.)
func stopServer(t *testing.T, srv *harness.Server) {
	t.Helper()
	if err := srv.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to sessiond (pid %d): %v", srv.Pid(), err)
	}
	testkit.Eventually(t, 15*time.Second, fmt.Sprintf("sessiond (pid %d) has exited after SIGTERM", srv.Pid()), func() bool {
		return errors.Is(srv.Cmd.Process.Signal(syscall.Signal(0)), os.ErrProcessDone)
	})
}

// waitForApp waits, for up to 15s, until the new server has loaded its data
// directory and the app's client has connected to it (INFO: loading:0 and
// a client besides the connection asking). node-redis and ioredis retry
// with a backoff of their own, so the wait is a poll of the server.
func waitForApp(t *testing.T, f *fixture) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, _ := f.do(t, "INFO").(string)
		fields := testkit.InfoFields(info)
		loading, clients := fields["loading"], fields["connected_clients"]
		if n, err := strconv.Atoi(clients); loading == "0" && err == nil && n >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15s after the restart: loading:%s connected_clients:%s, want 0 and the app's client besides this one", loading, clients)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
