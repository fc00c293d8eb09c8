package main

import (
	"bufio"
	"context"
	"net"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// client is a minimal RESP2 client for the probes: one connection, one
// command at a time.
type client struct {
	nc net.Conn
	r  *bufio.Reader
}

func dial(addr string) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &client{nc: nc, r: bufio.NewReader(nc)}, nil
}

func (c *client) Close() error { return c.nc.Close() }

// do sends a command and returns its reply: the text of a simple or bulk
// string, the digits of an integer, ok false for a null.
func (c *client) do(args ...string) (string, bool, error) {
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(load.AppendCommand(nil, args...)); err != nil {
		return "", false, err
	}
	return load.ReadText(c.r)
}

// infoText returns INFO section of s.
func infoText(ctx context.Context, s *target.Server, section string) (string, error) {
	c, err := dial(s.Addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	text, _, err := c.do("INFO", section)
	return text, err
}
