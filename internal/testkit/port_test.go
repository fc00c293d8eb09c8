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
