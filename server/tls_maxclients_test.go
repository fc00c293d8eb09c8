package server_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// TestTLSHandshakesCountForPlainClients: handshakes under way take places
// of maxclients for every listener, not only for the next TLS client: with
// maxclients 2 and two handshakes under way, a client of the plain
// listener is refused, so that the connections stay at most maxclients.
func TestTLSHandshakesCountForPlainClients(t *testing.T) {
	f := startTLS(t, server.Config{TLSHandshakeTimeout: 5 * time.Second, MaxClients: 2}, false)
	for range 2 {
		silent, err := net.Dial("tcp", f.tlsAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
	}
	time.Sleep(200 * time.Millisecond) // both accepted, handshaking
	var served int
	for range 2 {
		c := f.dial(t)
		c.send("PING")
		if r, err := c.readErr(); err == nil && !strings.HasPrefix(r.Raw, "-ERR max") {
			served++
		}
	}
	if served > 0 {
		t.Fatalf("maxclients 2, two TLS handshakes under way: %d plain clients served as well (%d connections)", served, 2+served)
	}
}
