package server_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
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
	srv := server.New(nil, nil, server.Config{Logger: quietLog})
	if err := srv.Listen(); err == nil {
		t.Errorf("Listen with neither Addr nor Unix succeeded")
	}
}
