package persist

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
)

// TestSecondProcessRefused: a second sessiond on a directory another one
// serves exits with status 3 and a line naming the directory and the
// first one's pid, and the first serves on. Once the first is killed with
// SIGKILL, the kernel has released its lock: a new one starts on the
// directory at once, with the first one's sessions.
func TestSecondProcessRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := start(t, dir)
	first.waitLoaded(t)
	if err := first.rdb.Set(bounded(t), "sess:1", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}

	code, stderr := runRefused(t, dir)
	if code != 3 {
		t.Errorf("a second sessiond on %s exited with status %d, want 3; its stderr:\n%s", dir, code, stderr)
	}
	if pid := strconv.Itoa(first.Pid()); !strings.Contains(stderr, dir) || !strings.Contains(stderr, pid) {
		t.Errorf("a second sessiond's stderr does not name the directory %s and the pid %s of the one serving it:\n%s", dir, pid, stderr)
	}
	if v, err := first.rdb.Get(bounded(t), "sess:1").Result(); err != nil || v != "kept" {
		t.Errorf("the first sessiond, after a second was refused: GET sess:1 = %q, %v; want \"kept\"", v, err)
	}

	first.kill9(t)
	killed := time.Now()
	next := start(t, dir) // fails the test if it exits instead of listening
	next.waitLoaded(t)
	t.Logf("a new sessiond served the directory %v after the kill", time.Since(killed).Round(time.Millisecond))
	if v, err := next.rdb.Get(bounded(t), "sess:1").Result(); err != nil || v != "kept" {
		t.Errorf("after the kill and a restart: GET sess:1 = %q, %v; want \"kept\"", v, err)
	}
}

// runRefused runs a sessiond on dir that is expected to exit at once, and
// returns its exit status and stderr. One that runs for 10s is killed.
func runRefused(t *testing.T, dir string) (code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := append(strings.Fields(os.Getenv("COMPAT_SESSIOND_ARGS")),
		"--log-format", "text", "--addr", "127.0.0.1:0", "--dir", dir)
	cmd := exec.CommandContext(ctx, harness.Binary(t), args...)
	cmd.WaitDelay = time.Second
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var buf bytes.Buffer
	cmd.Stderr = &buf
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("a second sessiond on %s still ran after 10s:\n%s", dir, buf.String())
	case err == nil:
		return 0, buf.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), buf.String()
	default:
		t.Fatalf("running a second sessiond: %v", err)
	}
	return 0, ""
}
