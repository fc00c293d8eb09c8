package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// A client in the middle of a pipeline whose replies are still going out
// gets every reply of the commands the server read, then the close.
func TestShutdownFinishesPipeline(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	value := strings.Repeat("s", 100<<10)
	c.expect(ok, "SET", "big", value)
	idle := ts.dial(t)
	idle.expect("+PONG\r\n", "PING")

	// 200 replies of 100 KB do not fit in the socket buffers: the server
	// is still writing them when Shutdown comes.
	const n = 200
	var batch bytes.Buffer
	for range n {
		batch.Write(encode("GET", "big"))
	}
	c.write(batch.Bytes())
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.br.Peek(1); err != nil {
		t.Fatalf("no reply to the pipeline: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- ts.shutdown(t, 10*time.Second) }()

	want := bulk(value)
	for i := range n {
		r, err := c.readErr()
		if err != nil {
			t.Fatalf("reply %d of %d: %v", i, n, err)
		}
		if r.Raw != want {
			t.Fatalf("reply %d: got %d bytes %q, want the value", i, len(r.Raw), clip([]byte(r.Raw)))
		}
	}
	if rest := c.expectClosed(); len(rest) != 0 {
		t.Errorf("after the pipeline's replies: got %q, want the close", clip(rest))
	}
	if rest := idle.expectClosed(); len(rest) != 0 {
		t.Errorf("idle connection got %q before the close", rest)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if nc, err := net.DialTimeout("tcp", ts.tcp, time.Second); err == nil {
		nc.Close()
		t.Errorf("the server still accepts connections after Shutdown")
	}
}

// Replies already computed for a batch go out even when Shutdown comes
// between the batch and the next read.
func TestShutdownAnswersReadCommands(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	var batch bytes.Buffer
	for range 100 {
		batch.Write(encode("SET", "k", "v"))
		batch.Write(encode("GET", "k"))
	}
	c.write(batch.Bytes())
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.br.Peek(1); err != nil {
		t.Fatalf("no reply to the pipeline: %v", err)
	}
	if err := ts.shutdown(t, 5*time.Second); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for i := range 100 {
		c.expectRead(ok, "SET")
		c.expectRead(bulk("v"), "GET")
		if t.Failed() {
			t.Fatalf("stopped at pair %d", i)
		}
	}
	c.expectClosed()
}

// A connection that sent half a command is closed by Shutdown without
// waiting for the rest.
func TestShutdownHalfCommand(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	c.expect("+PONG\r\n", "PING")
	c.writeString("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
	time.Sleep(50 * time.Millisecond)
	began := time.Now()
	if err := ts.shutdown(t, 5*time.Second); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("Shutdown took %v with a half-sent command", d)
	}
	c.expectClosed()
}

// When a client does not read and the context ends, Shutdown closes it
// and returns the context's error; Serve has returned ErrServerClosed.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{WriteTimeout: time.Minute}, nil)
	c := ts.dial(t)
	value := strings.Repeat("d", 100<<10)
	c.expect(ok, "SET", "big", value)
	var batch bytes.Buffer
	for range 500 {
		batch.Write(encode("GET", "big"))
	}
	c.write(batch.Bytes())
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.br.Peek(1); err != nil {
		t.Fatalf("no reply to the pipeline: %v", err)
	}
	began := time.Now()
	err := ts.shutdown(t, 300*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a client that does not read: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Shutdown took %v with a 300ms context", d)
	}
	if _, err := c.drain(); err != nil {
		t.Errorf("the client that did not read was not closed: %v", err)
	}
}

func TestShutdownTwice(t *testing.T) {
	t.Parallel()
	ts := start(t)
	if err := ts.shutdown(t, time.Second); err != nil {
		t.Fatal(err)
	}
	// A second Shutdown is harmless.
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestListenWithoutAddress(t *testing.T) {
	t.Parallel()
	srv := server.New(nil, server.Config{Logger: quietLog})
	if err := srv.Listen(); err == nil {
		t.Errorf("Listen with neither Addr nor Unix succeeded")
	}
}

// A client that pipelined more than the server read in one go is stopped
// by Shutdown after the batch the server did read, and every command the
// server executed gets its reply, then a clean close. Closed with the rest
// of the pipeline unread, the socket would be reset, and the reset drops
// the replies still queued for the client.
func TestShutdownUnreadInputKeepsReplies(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	value := strings.Repeat("v", 8<<10)
	c.expect(ok, "SET", "big", value)

	// 3000 pairs of SET marker / GET big: about 150 KB of commands (the
	// server reads 16 KB at a time) and 24 MB of replies (more than the
	// socket buffers hold).
	const n = 3000
	var batch bytes.Buffer
	for i := range n {
		batch.Write(encode("SET", fmt.Sprintf("m%d", i), "1"))
		batch.Write(encode("GET", "big"))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		c.nc.Write(batch.Bytes()) // may fail once the server closes
	}()
	// Let the server fill the socket buffers and block writing.
	time.Sleep(300 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- ts.shutdown(t, 10*time.Second) }()
	time.Sleep(100 * time.Millisecond)

	// Read every reply until the server closes.
	oks, gets := 0, 0
	var readErr error
	for {
		r, err := c.readErr()
		if err != nil {
			readErr = err
			break
		}
		switch r.Raw {
		case ok:
			oks++
		case bulk(value):
			gets++
		default:
			t.Fatalf("unexpected reply %q", clip([]byte(r.Raw)))
		}
	}
	wg.Wait()
	<-done

	executed := 0
	for i := range n {
		if found, _ := ts.st.Exists(fmt.Sprintf("m%d", i)); found {
			executed++
		}
	}
	if executed == n {
		t.Skip("the server read the whole pipeline before Shutdown: nothing to show")
	}
	if oks != executed {
		t.Errorf("the server executed %d SETs but the client got %d +OK replies (and %d GET replies) before %v",
			executed, oks, gets, readErr)
	}
	if isReset(readErr) {
		t.Errorf("the connection ended with a reset (%v), not a clean close, after %d replies", readErr, oks+gets)
	}
}

// blockingCluster is a Cluster whose WaitReplicas waits as a node with an
// unreachable peer does: for the whole timeout (0: no limit), here until
// released.
type blockingCluster struct{ release chan struct{} }

func (b *blockingCluster) WaitReplicas(n int, timeout time.Duration, cancel <-chan struct{}) int {
	if timeout <= 0 {
		timeout = 24 * time.Hour // as cluster.Node does
	}
	select {
	case <-b.release:
	case <-cancel:
	case <-time.After(timeout):
	}
	return 0
}
func (b *blockingCluster) Info() [][2]string       { return nil }
func (b *blockingCluster) Digest() (string, error) { return "", nil }

// A connection blocked in WAIT (a peer down, WAIT 1 0: no time limit) does
// not hold Shutdown: the wait ends when the connection is stopped, WAIT
// answers what it has, and Shutdown returns well before its context ends.
// (Redis's SHUTDOWN does not wait for WAIT either.)
func TestShutdownEndsBlockedWait(t *testing.T) {
	cl := &blockingCluster{release: make(chan struct{})}
	defer close(cl.release)
	ts := startServer(t, server.Config{Cluster: cl}, nil)
	c := ts.dial(t)
	c.send("WAIT", "1", "0")
	time.Sleep(100 * time.Millisecond)

	ts.down.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown has not returned after 3s: a WAIT with no timeout holds it")
	}
	c.expect(":0\r\n")
}
