package testkit

import (
	"fmt"
	"net"
	"testing"
)

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("FreePort gave %d, which cannot be listened on: %v", port, err)
	}
	l.Close()
}

// TestFreePortNotEphemeral: the port is one the kernel would not give an
// outgoing connection meanwhile.
func TestFreePortNotEphemeral(t *testing.T) {
	for range 20 {
		if p := FreePort(t); p >= ephemeralLow() {
			t.Fatalf("FreePort gave %d, in the ephemeral range from %d", p, ephemeralLow())
		}
	}
}
