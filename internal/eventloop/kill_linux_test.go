package eventloop

import (
	"io"
	"testing"
	"time"
)

// TestKill: Kill, from another goroutine, closes a connection the loop
// serves at once, and the client reads the end of the stream; the other
// connections are served on. A Kill after Stop does nothing.
func TestKill(t *testing.T) {
	g, l := startEcho(t)
	victim, vs := socketPair(t, "tcp", "127.0.0.1:0")
	other, otherSrv := socketPair(t, "tcp", "127.0.0.1:0")
	var sock *Socket
	l.mu.Lock()
	if !l.attach(vs, func(s *Socket) Conn { sock = s; return &echoConn{s: s} }) {
		l.mu.Unlock()
		t.Fatal("the loop did not take the connection")
	}
	attachEcho(t, l, otherSrv)
	l.mu.Unlock()
	victim.Write([]byte("PING\n"))
	expectPongs(t, victim, 1)

	go sock.Kill()
	victim.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := victim.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after Kill: %d bytes, %v; want EOF", n, err)
	}
	other.Write([]byte("PING\n"))
	expectPongs(t, other, 1)

	g.Stop()
	sock.Kill() // the loop has ended: nothing to wake, nothing closed twice
}
