package cluster

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/compat/harness"
)

// TestProtectedMode: a sessiond with no password, listening on every
// address of its network namespace, refuses redis-cli from another host
// (the test, behind the bridge) with -DENIED saying why, serves it on
// loopback inside the namespace, and logs a warning at start; with
// --protected-mode no it serves the other host.
func TestProtectedMode(t *testing.T) {
	nw := newNetns(t, 2)
	cli := harness.Need(t, "redis-cli")
	ping := func(wrapper []string, host string) string {
		t.Helper()
		args := append(append(wrapper[:len(wrapper):len(wrapper)], cli), "-h", host, "-p", "6379", "PING")
		out, _ := exec.Command(args[0], args[1:]...).CombinedOutput() // its status is its own business
		return strings.TrimSpace(string(out))
	}
	in := func(i int) []string { return []string{"ip", "netns", "exec", nw.names[i]} }

	on := harness.StartWrapped(t, in(0), "--addr", "0.0.0.0:6379")
	if out := ping(nil, nw.addrs[0]); !strings.Contains(out, "DENIED") || !strings.Contains(out, "protected mode") {
		t.Fatalf("redis-cli from another host: %q, want DENIED naming protected mode", out)
	}
	if out := ping(in(0), "127.0.0.1"); out != "PONG" {
		t.Fatalf("redis-cli on loopback in the server's namespace: %q, want PONG", out)
	}
	if log := on.Log(); !strings.Contains(log, "protected mode") || !strings.Contains(log, "level=WARN") {
		t.Fatalf("no warning about protected mode at start:\n%s", log)
	}

	harness.StartWrapped(t, in(1), "--addr", "0.0.0.0:6379", "--protected-mode", "no")
	if out := ping(nil, nw.addrs[1]); out != "PONG" {
		t.Fatalf("redis-cli from another host with --protected-mode no: %q, want PONG", out)
	}
}
