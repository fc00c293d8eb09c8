package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// client is a minimal RESP2 client for the commands around a benchmark
// (INFO, SAVE, BGSAVE, DBSIZE, a probe's GET): one connection, one command
// at a time, over a Unix socket or loopback TCP. load.Do keeps no payload,
// and INFO's is what these phases read.
type client struct {
	nc net.Conn
	r  *bufio.Reader
}

// dial connects to a Unix socket or a loopback TCP address.
func dial(ctx context.Context, network, addr string) (*client, error) {
	if network == "tcp" {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %q", load.ErrNotLocal, addr)
		}
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &client{nc: nc, r: bufio.NewReaderSize(nc, 64<<10)}, nil
}

func (c *client) Close() error { return c.nc.Close() }

// do sends a command and returns its reply: the text of a simple or bulk
// string, the digits of an integer; ok is false for a null; an error
// reply is a load.ReplyError. It waits up to timeout.
func (c *client) do(timeout time.Duration, args ...string) (text string, ok bool, err error) {
	if err := c.nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", false, err
	}
	if _, err := c.nc.Write(load.AppendCommand(nil, args...)); err != nil {
		return "", false, err
	}
	text, ok, err = load.ReadText(c.r)
	if errors.Is(err, load.ErrProtocol) {
		err = fmt.Errorf("%s: %w", args[0], err)
	}
	return text, ok, err
}

// command runs one command on a new connection to s's Unix socket.
func command(ctx context.Context, s *server, timeout time.Duration, args ...string) (string, error) {
	c, err := dial(ctx, "unix", s.Unix)
	if err != nil {
		return "", err
	}
	defer c.Close()
	text, _, err := c.do(timeout, args...)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", s.Name, strings.Join(args, " "), err)
	}
	return text, nil
}

// info returns the fields of one INFO section.
func (c *client) info(section string) (map[string]string, error) {
	text, _, err := c.do(10*time.Second, "INFO", section)
	if err != nil {
		return nil, err
	}
	return parseInfo(text), nil
}

// parseInfo splits INFO's "field:value" lines.
func parseInfo(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m
}

// infoInt returns an integer field of an INFO section.
func infoInt(m map[string]string, field string) (int64, error) {
	v, ok := m[field]
	if !ok {
		return 0, fmt.Errorf("INFO has no %s", field)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("INFO %s: %q: %w", field, v, err)
	}
	return n, nil
}

// isLoading reports whether err is a LOADING reply.
func isLoading(err error) bool {
	var re load.ReplyError
	return errors.As(err, &re) && strings.HasPrefix(string(re), "LOADING")
}
