package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunMemcache(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--addr=", "--memcache-addr=127.0.0.1:0"}, noEnv, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stderr.String(), "msg=listening proto=memcache network=tcp addr=127.0.0.1:") {
		t.Errorf("run with only --memcache-addr = %d; stderr:\n%s", code, &stderr)
	}

	// A password and a memcache port others can reach: refused at start,
	// in one line that says why and what to do.
	stderr.Reset()
	env := func(name string) (string, bool) {
		if name == "SESSIOND_REQUIREPASS" {
			return "secret", true
		}
		return "", false
	}
	code = run(context.Background(), []string{"--addr=127.0.0.1:0", "--memcache-addr=0.0.0.0:0"}, env, &stdout, &stderr)
	msg := stderr.String()
	if code != exitFailed || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "no authentication") || !strings.Contains(msg, "--memcache-insecure") {
		t.Errorf("run with requirepass and memcache on 0.0.0.0 = %d, stderr %q; want %d and one line naming --memcache-insecure", code, msg, exitFailed)
	}
	stderr.Reset()
	code = run(ctx, []string{"--addr=127.0.0.1:0", "--memcache-addr=0.0.0.0:0", "--memcache-insecure"}, env, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stderr.String(), "level=WARN") {
		t.Errorf("with --memcache-insecure = %d; stderr:\n%s", code, &stderr)
	}
}
