//go:build linux

package server

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A client that reads slowly pipelines GETs and then a malformed command:
// it gets every reply and the protocol error before the close, from a loop
// as from a goroutine. On a loop the error's flush meets a full socket,
// and the connection leaves for a goroutine that writes the rest (it was
// closed with the rest unwritten).
func TestLoopProtocolErrorKeepsReplies(t *testing.T) {
	for _, loops := range []int{0, 1} {
		t.Run(map[int]string{0: "goroutines", 1: "loop"}[loops], func(t *testing.T) {
			s, addr := loopTestServer(t, Config{EventLoops: loops}, nil)
			value := strings.Repeat("v", 1000)
			if err := s.st.Set("k", []byte(value), 0); err != nil {
				t.Fatal(err)
			}
			// How many 1 KB replies a slow client's socket takes before the
			// loop gives up on it (the same on every try: about 2.3 MB).
			fill := 2200
			if loops > 0 {
				probe := dialSmallRcvbuf(t, addr)
				n := fillUntilLeft(s, probe, 0)
				probe.Close()
				fill = n - 40
			}
			nc := dialSmallRcvbuf(t, addr)
			fillUntilLeft(s, nc, fill)
			// 60 more replies (60 KB, under FlushAt: flushed once, by
			// readFailed) and a protocol error.
			var last strings.Builder
			for range 60 {
				last.WriteString(respCmd("GET", "k"))
			}
			last.WriteString("*1\r\nfoo\r\n")
			if _, err := io.WriteString(nc, last.String()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(nc)
			want := "$1000\r\n" + value + "\r\n"
			for i := range fill + 60 {
				got := make([]byte, len(want))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
					t.Fatalf("reply %d of %d: %v (%q)", i, fill+60, err, tail(got))
				}
			}
			if rest, _ := io.ReadAll(br); string(rest) != "-ERR Protocol error: expected '$', got 'f'\r\n" {
				t.Fatalf("after the replies: %q, want the protocol error", rest)
			}
		})
	}
}

// fillUntilLeft sends GETs one at a time, paced, without reading: n of
// them, or if n is 0 until the connection leaves its loop; it returns how
// many it sent.
func fillUntilLeft(s *Server, nc net.Conn, n int) int {
	var before int64
	if s.loops != nil {
		before = leftCount(s.loops)
	}
	sent := 0
	for (n > 0 && sent < n) || (n == 0 && leftCount(s.loops) == before && sent < 100000) {
		io.WriteString(nc, respCmd("GET", "k"))
		sent++
		time.Sleep(200 * time.Microsecond)
	}
	time.Sleep(100 * time.Millisecond)
	return sent
}

func tail(b []byte) string {
	if len(b) > 60 {
		b = b[len(b)-60:]
	}
	return string(b)
}
