package server

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// heldReplicator holds every write's Wait until release is closed, as sync
// replication waits for its peers.
type heldReplicator struct{ release chan struct{} }

func (r heldReplicator) Replicate(sessiond.Record) uint64       { return 1 }
func (r heldReplicator) ReplicateClear(sessiond.Version) uint64 { return 1 }
func (r heldReplicator) Wait(uint64) error                      { <-r.release; return nil }

// With writes that wait for replicas (Config.WritesWait), a connection
// leaves its event loop at its first write: while that write waits, the
// loop goes on serving the other connections.
func TestLoopWriteWaitsOffLoop(t *testing.T) {
	rep := heldReplicator{release: make(chan struct{})}
	released := false
	defer func() {
		if !released {
			close(rep.release)
		}
	}()
	s, addr := loopTestServer(t, Config{EventLoops: 1, WritesWait: true}, &sessiond.Options{Replicator: rep})
	ls := s.loops
	reader := dialLoop(t, addr)
	reader.expect(respCmd("PING"), "+PONG\r\n") // in the loop
	writer := dialLoop(t, addr)
	writer.expect(respCmd("PING"), "+PONG\r\n")
	if _, err := writer.nc.Write([]byte(respCmd("SET", "k", "v"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for leftCount(ls) < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if l := leftCount(ls); l != 1 {
		t.Fatalf("%d connections left the loop at a write that waits; want 1", l)
	}
	// The write waits; the loop still serves the reader.
	reader.expect(respCmd("GET", "k"), "$1\r\nv\r\n")
	reader.expect(respCmd("PING"), "+PONG\r\n")
	close(rep.release)
	released = true
	writer.expect("", "+OK\r\n")
	if l := leftCount(ls); l != 1 {
		t.Fatalf("%d connections left the loop; want only the writer", l)
	}
}
