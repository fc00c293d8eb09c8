package eventloop

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A read that does not fill its buffer does not always empty the socket.
// Under edge triggering, what it leaves gets no new event, so the loop
// reads such connections again itself (loop.again). Each test holds the
// loop's lock while the client sends, so that all the input is there
// before the loop takes the connection and reads it.

// TCP stops a read at the urgent mark (EPOLLPRI).
func TestShortReadAtUrgentMark(t *testing.T) {
	_, l := startEcho(t)
	client, server := socketPair(t, "tcp", "127.0.0.1:0")
	l.mu.Lock()
	attachEcho(t, l, server)
	rc, err := client.(*net.TCPConn).SyscallConn()
	if err != nil {
		l.mu.Unlock()
		t.Fatal(err)
	}
	var serr error
	rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), []byte("PING\n"), 0, nil)
		if serr == nil {
			serr = syscall.Sendto(int(fd), []byte("x"), syscall.MSG_OOB, nil)
		}
		if serr == nil {
			serr = syscall.Sendto(int(fd), []byte("PING\n"), 0, nil)
		}
		return true
	})
	time.Sleep(100 * time.Millisecond)
	l.mu.Unlock()
	if serr != nil {
		t.Fatal(serr)
	}
	expectPongs(t, client, 2)
}

// A Unix socket's read stops after a message that passes descriptors.
func TestShortReadAfterPassedDescriptor(t *testing.T) {
	_, l := startEcho(t)
	client, server := socketPair(t, "unix", filepath.Join(t.TempDir(), "s.sock"))
	l.mu.Lock()
	attachEcho(t, l, server)
	uc := client.(*net.UnixConn)
	_, _, err1 := uc.WriteMsgUnix([]byte("PING\n"), syscall.UnixRights(int(os.Stdin.Fd())), nil)
	_, err2 := uc.Write([]byte("PING\n"))
	time.Sleep(100 * time.Millisecond)
	l.mu.Unlock()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	expectPongs(t, client, 2)
}

// socketPair returns the two ends of a connection over network to addr.
func socketPair(t *testing.T, network, addr string) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

// startEcho starts a group of one loop, and returns it and its loop.
func startEcho(t *testing.T) (*Group, *loop) {
	t.Helper()
	g, err := Start(Config{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g, g.loops[0]
}

// attachEcho attaches nc to the loop l, served by an echoConn. The
// caller holds l.mu, so the loop takes the connection only once it lets go.
func attachEcho(t *testing.T, l *loop, nc net.Conn) {
	t.Helper()
	if !l.attach(nc, func(s *Socket) Conn { return &echoConn{s: s} }) {
		t.Fatal("the loop did not take the connection")
	}
}

// expectPongs reads n lines PONG from nc.
func expectPongs(t *testing.T, nc net.Conn, n int) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	for i := range n {
		line, err := br.ReadString('\n')
		if err != nil || line != "PONG\n" {
			t.Fatalf("reply %d: %q, %v; want PONG", i+1, line, err)
		}
	}
}

// echoConn answers each line PING with PONG: the smallest protocol, to
// test the loop with.
type echoConn struct {
	s   *Socket
	buf []byte
}

func (e *echoConn) Serve() Next {
	var p [4096]byte
	for {
		n, err := e.s.Read(p[:])
		e.buf = append(e.buf, p[:n]...)
		for {
			i := bytes.IndexByte(e.buf, '\n')
			if i < 0 {
				break
			}
			if string(e.buf[:i]) == "PING" {
				e.s.Write([]byte("PONG\n"))
			}
			e.buf = e.buf[i+1:]
		}
		switch {
		case err == ErrWouldBlock:
			return Stay
		case err == io.EOF, err != nil:
			return Drop
		}
	}
}

func (e *echoConn) Flush(bool) Next              { return Stay }
func (e *echoConn) Resume(nc net.Conn, _ []byte) { nc.Close() }
func (e *echoConn) Close()                       { e.s.Close() }
