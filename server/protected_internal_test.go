package server

import (
	"net"
	"testing"
)

func TestFromLocal(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }
	tests := []struct {
		addr net.Addr
		want bool
	}{
		{tcp("127.0.0.1"), true},
		{tcp("127.8.9.10"), true},
		{tcp("::1"), true},
		{tcp("::ffff:127.0.0.1"), true},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1).To4()}, true},
		{&net.UnixAddr{Name: "/run/sessiond.sock", Net: "unix"}, true},
		{&net.UnixAddr{Name: "@", Net: "unix"}, true},
		{tcp("192.0.2.2"), false},
		{tcp("10.0.0.1"), false},
		{tcp("::ffff:10.0.0.1"), false},
		{tcp("fd00::2"), false},
		{tcp("fe80::1"), false},
		{tcp("0.0.0.0"), false},
		{&net.TCPAddr{}, false},
		{&net.UDPAddr{IP: net.ParseIP("127.0.0.1")}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := fromLocal(tt.addr); got != tt.want {
			t.Errorf("fromLocal(%v) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
