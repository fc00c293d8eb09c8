package testkit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreePort returns a loopback port that was free a moment ago, for TCP
// and UDP both (a cluster node's gossip port takes both), for a server
// that must be told its port (a reference server, a node another one
// joins at a known address, a node restarted on its address) rather than
// listen on port 0 and say which one it got.
//
// It is drawn from below the kernel's ephemeral range, which the kernel
// never hands out to an outgoing connection or to a listener on port 0:
// a port taken from that range by listening on port 0 could be another
// test's client connection by the time a node restarts on it, as a full
// run once saw. Another test's FreePort may still draw the same port, a
// small chance the tests that use it accept.
func FreePort(t testing.TB) int {
	t.Helper()
	lo, hi := 20000, ephemeralLow()-1
	for range 200 {
		if hi <= lo {
			break
		}
		p := lo + rand.IntN(hi-lo+1)
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralLow returns the first port of the kernel's ephemeral range:
// Linux's as configured, else 32768 (Linux's default; other systems
// start theirs higher).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 1024 {
		return 32768
	}
	return n
}
