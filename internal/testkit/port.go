package testkit

import (
	"net"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server that must be told its port (a reference server, a node another
// one joins at a known address) rather than listen on port 0 and say
// which one it got. Another process may take the port before the server
// does; the tests that use it accept that small chance.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
