package server

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// A client that sends its last command with its FIN (nc -N, a script
// piping into a socket) gets the reply, also from an event loop that keeps
// replies for the end of its round (a data directory): the read that finds
// the end of input must not close the connection before they go out.
// (Found by a review: every reply was lost before the fix.)
func TestHalfCloseGetsItsReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		loops int
		dir   bool
	}{{"goroutines, data directory", 0, true}, {"loop, memory only", 1, false}, {"loop, data directory", 1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &sessiond.Options{}
			if tc.dir {
				opts = &sessiond.Options{Dir: t.TempDir(), DeferWrites: true}
			}
			_, addr := loopTestServer(t, Config{EventLoops: tc.loops}, opts)
			for i := range 20 {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				nc.SetDeadline(time.Now().Add(5 * time.Second))
				nc.Write([]byte(respCmd("SET", "k", "v")))
				nc.(*net.TCPConn).CloseWrite()
				b, err := io.ReadAll(nc)
				nc.Close()
				if string(b) != "+OK\r\n" {
					t.Fatalf("try %d: got %q (%v), want +OK", i, b, err)
				}
			}
		})
	}
}

// An event loop that keeps replies for the end of its round (a data
// directory) still gives back the buffers a large command grew, as a
// goroutine does when it would wait: 50 idle connections that once sent a
// 1 MiB value held about 100 MiB before the fix, 3 MiB after.
func TestLoopShrinksDeferredBuffers(t *testing.T) {
	opts := &sessiond.Options{Dir: t.TempDir(), DeferWrites: true, MaxValueSize: 4 << 20}
	_, addr := loopTestServer(t, Config{EventLoops: 1}, opts)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := int64(ms.HeapInuse)
	val := strings.Repeat("x", 1<<20)
	for range 50 {
		c := dialLoop(t, addr)
		c.expect(respCmd("SET", "k", val), "+OK\r\n")
		c.expect(respCmd("PING"), "+PONG\r\n") // a batch of its own after it
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grew := (int64(ms.HeapInuse) - before) >> 20; grew > 30 {
		t.Errorf("50 idle connections that once sent 1 MiB hold %d MiB more heap; want their buffers given back", grew)
	}
}
