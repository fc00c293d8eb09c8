package server

import (
	"bufio"
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
func TestLoopShortReadAtUrgentMark(t *testing.T) {
	s, addr := loopTestServer(t, Config{EventLoops: 1}, nil)
	l := s.loops.loops[0]
	l.mu.Lock()
	c := dialLoop(t, addr)
	rc, err := c.nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	ping := []byte(respCmd("PING"))
	var serr error
	rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), ping, 0, nil)
		if serr == nil {
			serr = syscall.Sendto(int(fd), []byte("x"), syscall.MSG_OOB, nil)
		}
		if serr == nil {
			serr = syscall.Sendto(int(fd), ping, 0, nil)
		}
		return true
	})
	time.Sleep(100 * time.Millisecond)
	l.mu.Unlock()
	if serr != nil {
		t.Fatal(serr)
	}
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.expect("", "+PONG\r\n+PONG\r\n")
}

// A Unix socket's read stops after a message that passes descriptors.
func TestLoopShortReadAfterPassedDescriptor(t *testing.T) {
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	s, _ := loopTestServer(t, Config{EventLoops: 1, Unix: path}, nil)
	l := s.loops.loops[0]
	l.mu.Lock()
	nc, err := net.Dial("unix", path)
	if err != nil {
		l.mu.Unlock()
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	uc := nc.(*net.UnixConn)
	ping := []byte(respCmd("PING"))
	_, _, err1 := uc.WriteMsgUnix(ping, syscall.UnixRights(int(os.Stdin.Fd())), nil)
	_, err2 := uc.Write(ping)
	time.Sleep(100 * time.Millisecond)
	l.mu.Unlock()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	c := &loopClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.expect("", "+PONG\r\n+PONG\r\n")
}
