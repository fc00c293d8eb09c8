package server_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
)

// FuzzOperatorArgs sends the operator's commands with any arguments (the
// input split at NUL bytes, after the command its first byte picks) to a
// server, which must answer each with one well-formed reply and go on
// serving; a CLIENT KILL may close the connection that sent it, which then
// is opened again.
func FuzzOperatorArgs(f *testing.F) {
	for _, s := range []string{
		"\x00KILL\x00ID\x001", "\x00KILL\x00127.0.0.1:1", "\x00KILL\x00SKIPME\x00no\x00TYPE\x00normal",
		"\x00LIST\x00ID\x00x", "\x01USAGE\x00k\x00SAMPLES\x00-1", "\x01STATS", "\x02ENCODING\x00k",
		"\x02IDLETIME", "\x03GET\x00*\x00max*", "\x03GET\x00[", "\x01DOCTOR",
	} {
		f.Add([]byte(s))
	}
	ts := start(f)
	// The connection outlives each input: it is dialed here, not with a
	// test's Cleanup, and closed when the target ends.
	redial := func(t testing.TB) *client {
		nc, err := net.DialTimeout("tcp", ts.tcp, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		return &client{t: t, nc: nc, br: bufioReader(nc)}
	}
	c := redial(f)
	f.Cleanup(func() { c.nc.Close() })
	c.expect("+OK\r\n", "SET", "k", "v")
	cmds := []string{"CLIENT", "MEMORY", "OBJECT", "CONFIG"}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		args := fuzzCommand(cmds, in)
		c.t = t
		if _, err := c.try(args...); err != nil && !closedByServer(err) {
			t.Fatalf("%q: %v", args, err)
		}
		// The connection serves on, unless a CLIENT KILL closed it (SKIPME
		// no, or its own address): then a new one does.
		if r, err := c.try("PING"); err != nil || r.Raw != "+PONG\r\n" {
			if err != nil && !closedByServer(err) {
				t.Fatalf("PING after %q: %v", args, err)
			}
			c.nc.Close()
			c = redial(t)
			c.expect("+PONG\r\n", "PING")
		}
	})
}

// fuzzCommand is the command a fuzz input names: the one of cmds its
// first byte picks, with the rest split at NUL bytes as its arguments.
func fuzzCommand(cmds []string, in []byte) []string {
	args := []string{cmds[int(in[0])%len(cmds)]}
	for _, a := range bytes.Split(in[1:], []byte{0}) {
		args = append(args, string(a))
	}
	return args
}

// try sends args and reads their reply, returning the error of the write
// or the read rather than failing.
func (c *client) try(args ...string) (reply, error) {
	if err := c.writeErr(encode(args...)); err != nil {
		return reply{}, err
	}
	return c.readErr()
}

func closedByServer(err error) bool {
	var ne *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && isReset(err))
}
