package persist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/compat/harness"
	"github.com/sessiond/sessiond/internal/testkit"
)

// proc is one sessiond process serving a data directory, and a client for
// it.
type proc struct {
	*harness.Server
	dir string
	rdb *redis.Client
}

// start runs sessiond on dir with extra arguments and returns once it
// listens; it may still be loading the directory (see waitLoaded).
func start(t *testing.T, dir string, extra ...string) *proc {
	t.Helper()
	s := harness.Start(t, append([]string{"--dir", dir}, extra...)...)
	return &proc{Server: s, dir: dir, rdb: newClient(t, s.Addr, 16)}
}

// newClient returns a go-redis client for addr, closed when the test ends.
// Retries are off: a retry would hide a reply that was never acknowledged,
// and go-redis retries LOADING errors by default.
func newClient(t *testing.T, addr string, pool int) *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  addr,
		DialTimeout:           5 * time.Second,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		PoolSize:              pool,
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// bounded is a context for one step of a test: nothing in it should take
// long, and a server that stops answering must fail the test rather than
// hang it.
func bounded(t *testing.T) context.Context {
	return harness.Context(t, 30*time.Second)
}

// info returns the fields of one INFO section.
func info(ctx context.Context, rdb *redis.Client, section string) (map[string]string, error) {
	text, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return testkit.InfoFields(text), nil
}

// persistence returns INFO persistence, failing the test if it cannot.
func (p *proc) persistence(t *testing.T) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := info(ctx, p.rdb, "persistence")
	if err != nil {
		t.Fatalf("INFO persistence: %v", err)
	}
	return f
}

// waitLoaded waits until the server has loaded its directory (INFO
// persistence says loading:0), for up to 30s, and returns how long it
// waited.
func (p *proc) waitLoaded(t *testing.T) time.Duration {
	t.Helper()
	begin := time.Now()
	deadline := begin.Add(30 * time.Second)
	for {
		f := p.persistence(t)
		switch {
		case f["loading"] == "0":
			return time.Since(begin)
		case time.Now().After(deadline):
			t.Fatalf("still loading %s after 30s: %v", p.dir, f)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// restart starts a new sessiond on dir and waits until it has loaded it.
// The one that served dir before must be gone.
func restart(t *testing.T, dir string, extra ...string) *proc {
	t.Helper()
	p := start(t, dir, extra...)
	took := p.waitLoaded(t)
	f := p.persistence(t)
	t.Logf("restarted: rdb_last_load_keys_loaded:%s in %sms (%s after it listened)",
		f["rdb_last_load_keys_loaded"], f["sessiond_load_time_ms"], took.Round(time.Millisecond))
	return p
}

// kill9 kills the process with SIGKILL and waits until it is gone.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	p.waitGone(t)
}

// sigterm stops the process with SIGTERM and waits until it is gone.
func (p *proc) sigterm(t *testing.T) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	p.waitGone(t)
}

// waitGone waits, for up to 15s, until the process has exited and been
// reaped (by the harness, which waits for it): then the kernel has
// released its lock on the directory.
func (p *proc) waitGone(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, fmt.Sprintf("sessiond (pid %d) is gone after it was told to stop", p.Pid()), func() bool {
		return errors.Is(syscall.Kill(p.Pid(), 0), syscall.ESRCH)
	})
}

// snapshotTemps lists the unfinished snapshots in dir: a process killed
// while it wrote one leaves it behind (the next start removes it).
func snapshotTemps(t *testing.T, dir string) []string {
	t.Helper()
	var tmps []string
	for _, name := range files(t, dir) {
		if strings.HasPrefix(name, "snapshot.") && strings.HasSuffix(name, ".tmp") {
			tmps = append(tmps, name)
		}
	}
	return tmps
}

// files lists the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// isLoading reports whether err is the server's LOADING error reply.
func isLoading(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "LOADING")
}
