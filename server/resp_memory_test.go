package server_test

import (
	"strings"
	"testing"
	"time"
)

// TestIdleConnectionReleasesLargeCommandBuffer checks that a connection
// that once sent a large command does not keep, once idle, the input
// buffer that grew for it: the reader shrinks it back to 16 KiB, and must
// hold nothing of the old one, not through the argument slots of the large
// command past the length of every later, shorter one (here SET's 3
// arguments, then only PING). Otherwise 10,000 idle connections that each
// once wrote an 800 KB session would hold 10 GB.
func TestIdleConnectionReleasesLargeCommandBuffer(t *testing.T) {
	conns, before := idleConns(t)
	value := strings.Repeat("x", 800<<10)
	for _, c := range conns {
		c.expect(ok, "SET", "k", value)
		c.expect("+PONG\r\n", "PING") // idle again, with a 1-argument command last
	}
	time.Sleep(50 * time.Millisecond)
	after := heapInuse()
	// The store holds one 800 KB value; the rest is per connection.
	per := (after - before - int64(len(value))) / int64(len(conns))
	if per > 64<<10 {
		t.Errorf("each idle connection holds %d more bytes after one 800 KB SET, want at most 64 KiB", per)
	}
}

// TestIdleConnectionReleasesErrorSizedOutputBuffer checks that an error
// reply that echoes a large argument does not leave an idle connection
// holding an output buffer of the argument's size: the error goes out in
// FlushAt pieces, and the writer shrinks its buffer before the connection
// waits. (The 4-argument command after it frees the input buffer; see the
// test above.)
func TestIdleConnectionReleasesErrorSizedOutputBuffer(t *testing.T) {
	conns, before := idleConns(t)
	opt := strings.Repeat("x", 800<<10)
	for _, c := range conns {
		if r := c.do("EXPIRE", "k", "1", opt); !strings.HasPrefix(r.Raw, "-ERR Unsupported option") {
			t.Fatalf("EXPIRE with a bad option: %q", clip([]byte(r.Raw)))
		}
		c.expect(":0\r\n", "EXPIRE", "k", "1", "NX")
		c.expect("+PONG\r\n", "PING")
	}
	time.Sleep(50 * time.Millisecond)
	after := heapInuse()
	per := (after - before) / int64(len(conns))
	if per > 64<<10 {
		t.Errorf("each idle connection holds %d more bytes after one 800 KB error reply, want at most 64 KiB", per)
	}
}

// idleConns opens 20 connections to a new server, each past its first
// command, and returns them with the heap in use once they are idle.
func idleConns(t *testing.T) ([]*client, int64) {
	ts := start(t)
	conns := make([]*client, 20)
	for i := range conns {
		conns[i] = ts.dial(t)
		conns[i].expect("+PONG\r\n", "PING")
	}
	time.Sleep(50 * time.Millisecond)
	return conns, heapInuse()
}
