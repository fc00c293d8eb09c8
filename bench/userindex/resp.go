package main

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// conn is one RESP connection for commands sent one at a time and read
// whole (load.Do keeps no payload, and opens a connection per command,
// which a timed round trip must not include).
type conn struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte
}

// dialUnix connects to a server's Unix socket.
func dialUnix(ctx context.Context, path string) (*conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

func (c *conn) Close() error { return c.nc.Close() }

// do sends one command and returns its reply's text (load.ReadText): an
// error reply is a load.ReplyError. It waits up to 30 seconds.
func (c *conn) do(args ...string) (string, error) {
	if err := c.nc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return "", err
	}
	c.buf = load.AppendCommand(c.buf[:0], args...)
	if _, err := c.nc.Write(c.buf); err != nil {
		return "", err
	}
	text, _, err := load.ReadText(c.br)
	return text, err
}

// infoInt returns an integer field of INFO's text, -1 if it has none.
func infoInt(info, field string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
