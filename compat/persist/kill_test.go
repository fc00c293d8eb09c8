package persist

import (
	"strings"
	"testing"
	"time"
)

// TestKill9UnderLoad: under every fsync policy, and with an event loop,
// SIGKILL of a server in the
// middle of a write load loses no acknowledged write. Eight writers SET,
// DEL and EXPIRE keys of their own; the server is killed with writes in
// flight, restarted on its directory, and every key must hold its last
// acknowledged write (or the one in flight). Two rounds: the second kills a
// server that loaded the first one's crashed directory.
func TestKill9UnderLoad(t *testing.T) {
	t.Parallel()
	// An event loop (the default) writes the log once a round, for every
	// connection it served, before their replies; a goroutine per
	// connection writes it per batch: neither may lose anything.
	for i, args := range [][]string{
		{"--appendfsync", "always"},
		{"--appendfsync", "everysec"},
		{"--appendfsync", "no"},
		{"--appendfsync", "always", "--event-loops", "0"},
		{"--appendfsync", "everysec", "--event-loops", "0"},
		{"--appendfsync", "no", "--event-loops", "0"},
	} {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := start(t, dir, args...)
			p.waitLoaded(t)
			l := newLoad(t, "k", 8, 100, 200, uint64(i))
			for round := range 2 {
				rdb := newClient(t, p.Addr, 8)
				l.run(rdb)
				time.Sleep(time.Second)
				killedAt := time.Now()
				p.kill9(t)
				l.wait(t)
				l.checkFailures(t, killedAt)
				before := l.acks()
				p = restart(t, dir, args...)
				l.verify(t, p.rdb)
				if before < 200*(round+1) {
					t.Errorf("round %d: only %d writes acknowledged in all: the load did not run", round, before)
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}
