//go:build linux

package server

import (
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// A connection leaves its loop through net.FileConn, which dups the
// socket. At the process's descriptor limit (which maxclients 10000 can
// reach) the loop's spare descriptor makes room, and the command that made
// it leave (MGET here) is answered, as a goroutine-served connection's is.
// Without the spare the connection was closed with no reply. Shutdown makes
// every loop connection leave the same way.
func TestLoopLeaveAtDescriptorLimit(t *testing.T) {
	for _, loops := range []int{0, 1} {
		t.Run(map[int]string{0: "goroutines", 1: "loop"}[loops], func(t *testing.T) {
			_, addr := loopTestServer(t, Config{EventLoops: loops}, nil)
			c := dialLoop(t, addr)
			c.expect(respCmd("PING"), "+PONG\r\n")
			c.nc.SetDeadline(time.Now().Add(5 * time.Second))

			var old syscall.Rlimit
			if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir("/proc/self/fd")
			lim := old
			lim.Cur = uint64(len(ents) + 64)
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Skip(err)
			}
			var held []*os.File
			release := func() {
				for _, f := range held {
					f.Close()
				}
				held = nil
				syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
			}
			defer release()
			for {
				f, err := os.Open("/dev/null")
				if err != nil {
					break
				}
				held = append(held, f)
			}
			if _, err := io.WriteString(c.nc, respCmd("MGET", "nokey")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len("*1\r\n$-1\r\n"))
			_, err := io.ReadFull(c.br, got)
			release()
			if err != nil || string(got) != "*1\r\n$-1\r\n" {
				t.Fatalf("MGET with no descriptor to spare: %q, %v; want *1 $-1", got, err)
			}
		})
	}
}
