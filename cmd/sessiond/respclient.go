package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// The CLI's side of RESP: the few lines a client needs to send a command
// and read its reply. Package resp reads commands, as a server does, not
// replies; this reader reads replies, RESP2's types and RESP3's map and
// null, within limits, since what answers may not be a sessiond.

// Limits on a reply. A longer line, a larger bulk, more elements in all or
// a deeper nesting is a protocolError, not an allocation.
const (
	replyMaxLine     = 64 << 10 // a simple string, an error, a header; the reader's buffer
	replyMaxBulk     = 64 << 20 // one bulk string
	replyMaxElements = 1 << 24  // elements of every array of the reply together
	replyMaxDepth    = 8        // arrays within arrays
)

// A reply is one RESP reply.
type reply struct {
	kind  byte    // '+', '-', ':', '$', '*' (a map is an array of its pairs), '_' (a null)
	text  string  // of a simple string, an error or a bulk string
	n     int64   // of an integer
	elems []reply // of an array
}

// A protocolError is a reply the reader cannot read.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "protocol error: " + e.msg }

// readReply reads one reply from br, whose buffer holds at least
// replyMaxLine bytes.
func readReply(br *bufio.Reader) (reply, error) {
	budget := replyMaxElements
	return readValue(br, 0, &budget)
}

func readValue(br *bufio.Reader, depth int, budget *int) (reply, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return reply{}, &protocolError{fmt.Sprintf("a line longer than %d bytes", replyMaxLine)}
	case errors.Is(err, io.EOF) && len(line) > 0:
		return reply{}, io.ErrUnexpectedEOF
	case err != nil:
		return reply{}, err
	}
	line, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok || len(line) == 0 {
		return reply{}, &protocolError{fmt.Sprintf("line %q does not end in CRLF or is empty", line)}
	}
	r := reply{kind: line[0]}
	switch r.kind {
	case '+', '-':
		r.text = string(line[1:])
		return r, nil
	case '_':
		return r, nil
	case ':':
		r.n, err = strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil {
			return reply{}, &protocolError{fmt.Sprintf("integer %q", line[1:])}
		}
		return r, nil
	case '$':
		n, err := strconv.Atoi(string(line[1:]))
		switch {
		case err == nil && n == -1:
			return reply{kind: '_'}, nil
		case err != nil || n < 0 || n > replyMaxBulk:
			return reply{}, &protocolError{fmt.Sprintf("bulk length %q (at most %d)", line[1:], replyMaxBulk)}
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return reply{}, noEOF(err)
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return reply{}, &protocolError{"a bulk string not followed by CRLF"}
		}
		r.text = string(b[:n])
		return r, nil
	case '*', '%':
		n, err := strconv.Atoi(string(line[1:]))
		switch {
		case err == nil && n == -1 && r.kind == '*':
			return reply{kind: '_'}, nil
		case err != nil || n < 0 || n > replyMaxElements:
			return reply{}, &protocolError{fmt.Sprintf("length %q", line[1:])}
		case depth >= replyMaxDepth:
			return reply{}, &protocolError{fmt.Sprintf("arrays nested deeper than %d", replyMaxDepth)}
		}
		if r.kind == '%' {
			n *= 2 // a map reads as an array of its keys and values
		}
		if *budget -= n; *budget < 0 {
			return reply{}, &protocolError{fmt.Sprintf("more than %d elements", replyMaxElements)}
		}
		r.kind = '*'
		r.elems = make([]reply, 0, min(n, 1024)) // grown as elements come, not as the header says
		for range n {
			e, err := readValue(br, depth+1, budget)
			if err != nil {
				return reply{}, noEOF(err)
			}
			r.elems = append(r.elems, e)
		}
		return r, nil
	}
	return reply{}, &protocolError{fmt.Sprintf("unknown reply type %q", r.kind)}
}

// noEOF turns an EOF within a reply into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendCommand appends args to b as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// A client is one RESP connection to a server.
type client struct {
	conn net.Conn
	br   *bufio.Reader
	stop func() bool // ends the context's hold on conn
}

// Timeouts of the CLI's connection.
const (
	dialTimeout    = 5 * time.Second
	commandTimeout = 30 * time.Second // a revoke of many sessions writes a tombstone each
)

// dial connects to the server at addr on network ("tcp" or "unix"). The
// connection closes when ctx ends, so that an interrupt stops a wait.
func dial(ctx context.Context, network, addr string) (*client, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return &client{conn: conn, br: bufio.NewReaderSize(conn, replyMaxLine), stop: stop}, nil
}

// do sends one command and reads its reply; an error reply is returned as
// a reply of kind '-', not as an error.
func (c *client) do(args ...string) (reply, error) {
	c.conn.SetDeadline(time.Now().Add(commandTimeout))
	if _, err := c.conn.Write(appendCommand(nil, args...)); err != nil {
		return reply{}, err
	}
	return readReply(c.br)
}

// Close closes the connection.
func (c *client) Close() error {
	c.stop()
	return c.conn.Close()
}
