package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/eventloop"
)

// loopServer starts a server with two event loops on a loopback port.
func loopServer(t *testing.T) (*Server, *eventloop.Group, string) {
	t.Helper()
	s, addr := loopTestServer(t, Config{EventLoops: 2}, nil)
	return s, s.loops, addr
}

// loopClient is a raw RESP connection.
type loopClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialLoop(t *testing.T, addr string) *loopClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &loopClient{t: t, nc: nc, br: bufio.NewReaderSize(nc, 1<<20)}
}

func respCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// expect sends cmd (already encoded) and reads exactly want.
func (c *loopClient) expect(cmd, want string) {
	c.t.Helper()
	if cmd != "" {
		if _, err := io.WriteString(c.nc, cmd); err != nil {
			c.t.Fatal(err)
		}
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c.br, got); err != nil || string(got) != want {
		c.t.Fatalf("got %.80q (%v), want %.80q", got, err, want)
	}
}

// A connection stays in its loop for the usual commands, and leaves it for
// a goroutine, still served, for a command that may answer at length or
// one with many arguments.
func TestLoopLeavesForLongCommands(t *testing.T) {
	_, ls, addr := loopServer(t)
	c := dialLoop(t, addr)
	c.expect(respCmd("SET", "a", "1"), "+OK\r\n")
	c.expect(respCmd("GET", "a"), "$1\r\n1\r\n")
	if a, l := attachedCount(ls), leftCount(ls); a != 1 || l != 0 {
		t.Fatalf("after SET and GET: %d attached, %d left; want 1 and 0", a, l)
	}
	// Pipelined behind it, in the same read, the commands after MGET
	// are answered in order by the goroutine.
	c.expect(respCmd("MGET", "a", "b")+respCmd("PING"), "*2\r\n$1\r\n1\r\n$-1\r\n+PONG\r\n")
	if l := leftCount(ls); l != 1 {
		t.Fatalf("after MGET: %d left the loops, want 1", l)
	}

	c2 := dialLoop(t, addr)
	keys := []string{"DEL"}
	for i := range loopMaxArgs {
		keys = append(keys, fmt.Sprint("k", i))
	}
	c2.expect(respCmd(keys...), ":0\r\n")
	c2.expect(respCmd("GET", "a"), "$1\r\n1\r\n")
	if a, l := attachedCount(ls), leftCount(ls); a != 2 || l != 2 {
		t.Fatalf("after a DEL of %d keys: %d attached, %d left; want 2 and 2", loopMaxArgs, a, l)
	}
}

// A client that sends more than the socket takes back before it reads
// gets every reply, in order: the loop keeps what the socket would not
// take and the goroutine the connection moves to writes it first.
func TestLoopSlowReaderGetsEveryReply(t *testing.T) {
	s, ls, addr := loopServer(t)
	value := strings.Repeat("v", 256<<10)
	if err := s.st.Set("big", []byte(value), 0); err != nil {
		t.Fatal(err)
	}
	c := dialLoop(t, addr)
	const n = 100 // 25 MiB of replies
	var batch strings.Builder
	for i := range n {
		batch.WriteString(respCmd("GET", "big"))
		batch.WriteString(respCmd("ECHO", fmt.Sprint(i)))
	}
	go io.WriteString(c.nc, batch.String())
	time.Sleep(200 * time.Millisecond) // the socket fills
	for i := range n {
		c.expect("", "$262144\r\n"+value+"\r\n")
		e := fmt.Sprint(i)
		c.expect("", fmt.Sprintf("$%d\r\n%s\r\n", len(e), e))
	}
	c.expect(respCmd("PING"), "+PONG\r\n")
	if l := leftCount(ls); l != 1 {
		t.Errorf("%d connections left the loops, want 1", l)
	}
}

// Shutdown takes every connection out of the loops; each then ends as a
// goroutine's does, after the replies to what it read.
func TestLoopShutdown(t *testing.T) {
	s, ls, addr := loopServer(t)
	c := dialLoop(t, addr)
	c.expect(respCmd("PING"), "+PONG\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Errorf("after Shutdown, read = %v; want EOF", err)
	}
	if l := leftCount(ls); l != 1 {
		t.Errorf("%d connections left the loops, want 1", l)
	}
	// Accepting after Shutdown is over; the cleanup's Shutdown is a no-op.
}

// A client that sends its commands and half-closes at once gets their
// replies, then the close. The loop's sockets are edge-triggered: when the
// end of input is already there as the loop first reads, no new event will
// say so, and the loop must read on to it (the event's EPOLLRDHUP), whether
// the commands fill the reader's buffer or not. The commands go out before
// the loop takes the connection, so that they and the end are there first.
func TestLoopHalfClose(t *testing.T) {
	_, ls, addr := loopServer(t)
	for _, n := range []int{1, 3000} { // 3000 PINGs: more than the first read takes
		before := attachedCount(ls)
		c := dialLoop(t, addr)
		if _, err := io.WriteString(c.nc, strings.Repeat(respCmd("PING"), n)); err != nil {
			t.Fatal(err)
		}
		if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.expect("", strings.Repeat("+PONG\r\n", n))
		if b, err := c.br.ReadByte(); err != io.EOF {
			t.Fatalf("%d PINGs: after the replies, %q %v, want the close", n, b, err)
		}
		if attachedCount(ls) == before {
			t.Fatal("the connection was not served by a loop")
		}
	}
}

// A pipeline longer than one read of the loop's is served whole: the loop
// reads on while its reads fill their buffer, since no new event will come
// for what is left in the socket.
func TestLoopPipelineLongerThanARead(t *testing.T) {
	_, _, addr := loopServer(t)
	c := dialLoop(t, addr)
	c.expect(respCmd("PING"), "+PONG\r\n")
	const n = 5000 // 70 KB
	c.expect(strings.Repeat(respCmd("PING"), n), strings.Repeat("+PONG\r\n", n))
}
