package cluster

import (
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// TestReadyzDuringJoin: a node that joins a cluster whose member does not
// answer (stopped) says on /readyz that it is joining, with a 503, while
// /healthz says it is alive; once the member answers again, the node
// syncs, holds the member's sessions and is ready.
func TestReadyzDuringJoin(t *testing.T) {
	a := startNode(t, "a", "")
	for i := range 100 {
		if err := a.rdb.Set(ctx(t), "ready:"+strconv.Itoa(i), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(a.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(a.Pid(), syscall.SIGCONT)
		}
	}()

	httpAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	respAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	args := append(nodeArgs("b", "127.0.0.1:0", a.Gossip), "--addr", respAddr, "--http-addr", httpAddr, "--log-format", "text")
	b := exec.Command(harness.Binary(t), args...)
	var log testkit.Buffer
	b.Stderr = &log
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		b.Process.Signal(syscall.SIGTERM)
		b.Wait()
		if t.Failed() {
			t.Logf("b's log:\n%s", log.String())
		}
	}()

	get := func(path string) (int, string, error) {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body)), err
	}
	var code int
	var body string
	testkit.Eventually(t, 20*time.Second, "b's HTTP listener answers", func() bool {
		var err error
		code, body, err = get("/readyz")
		return err == nil
	})
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "joining the cluster") {
		t.Fatalf("/readyz while the member it joins is stopped: %d %s, want 503 saying it is joining", code, body)
	}
	if code, body, err := get("/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("/healthz while joining: %d %q %v, want 200", code, body, err)
	}
	// Still joining a second later: the member has not answered.
	time.Sleep(time.Second)
	if code, body, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz a second later, the member still stopped: %d %s", code, body)
	}

	if err := syscall.Kill(a.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	testkit.Eventually(t, 90*time.Second, "b ready once a answers", func() bool {
		code, body, err := get("/readyz")
		return err == nil && code == http.StatusOK && strings.Contains(body, `"ready":true`)
	})
	rdb := redis.NewClient(&redis.Options{Addr: respAddr})
	defer rdb.Close()
	if n, err := rdb.DBSize(ctx(t)).Result(); err != nil || n != 100 {
		t.Fatalf("b, ready, holds %d sessions (%v), want a's 100", n, err)
	}
}
