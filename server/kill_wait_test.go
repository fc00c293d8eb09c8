package server_test

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// TestClientKillBlockedWait: CLIENT KILL of a connection blocked in WAIT
// (a peer down, WAIT 1 0: no time limit) ends it: the client sees the end
// of the stream and the server forgets it (connected_clients, its place in maxclients),
// as kill.go promises for a connection "waiting in WAIT".
func TestClientKillBlockedWait(t *testing.T) {
	cl := &blockingCluster{release: make(chan struct{})}
	defer close(cl.release)
	ts := startServer(t, server.Config{Cluster: cl}, nil)
	admin := ts.dial(t)
	v := ts.dial(t)
	v.timeout = 2 * time.Second
	id := clientID(t, v)
	v.send("WAIT", "1", "0")
	time.Sleep(100 * time.Millisecond)
	admin.expect(num(1), "CLIENT", "KILL", "ID", id)
	v.expectClosed()
	// CLIENT LIST leaves a killed connection out at once (kill.go): what
	// tells whether it is gone is connected_clients, its place in maxclients.
	deadline := time.Now().Add(2 * time.Second)
	for connectedClients(t, admin) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("2s after CLIENT KILL, connected_clients is %d, want 1: the connection in WAIT is still held", connectedClients(t, admin))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
