package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A raw RESP client for the tests: it sends any bytes, reads one reply of
// any RESP2 or RESP3 type into a Go value, and keeps the reply's exact
// bytes so that a test can pin what Redis sends. Every read and write has a
// deadline, so a server that does not answer fails the test instead of
// hanging it.

// Reply types that a plain Go type cannot tell apart.
type (
	Simple   string // +OK
	Err      string // -ERR ...
	Set      []any  // ~ (RESP3)
	Push     []any  // > (RESP3)
	BigNum   string // ( (RESP3)
	Map      map[string]any
	Verbatim struct{ Format, Text string }
)

// Bulk strings are string, integers int64, arrays []any, nulls of every
// kind nil, booleans bool and doubles float64.

// reply is one reply: its value and the bytes it came in.
type reply struct {
	V   any
	Raw string
}

const ioTimeout = 5 * time.Second

type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
	// timeout bounds each read and write; ioTimeout if zero.
	timeout time.Duration
}

func dialNet(t testing.TB, network, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufioReader(nc)}
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

func bytesReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func (c *client) deadline() time.Time {
	d := c.timeout
	if d == 0 {
		d = ioTimeout
	}
	return time.Now().Add(d)
}

// writeErr writes raw bytes.
func (c *client) writeErr(b []byte) error {
	c.nc.SetWriteDeadline(c.deadline())
	_, err := c.nc.Write(b)
	return err
}

// write writes raw bytes and fails the test if it cannot.
func (c *client) write(b []byte) {
	c.t.Helper()
	if err := c.writeErr(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) writeString(s string) {
	c.t.Helper()
	c.write([]byte(s))
}

// encode returns args as a RESP array of bulk strings.
func encode(args ...string) []byte {
	var b []byte
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

// send writes one command.
func (c *client) send(args ...string) {
	c.t.Helper()
	c.write(encode(args...))
}

// read reads one reply and fails the test if it cannot.
func (c *client) read() reply {
	c.t.Helper()
	r, err := c.readErr()
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return r
}

// readErr reads one reply.
func (c *client) readErr() (reply, error) {
	c.nc.SetReadDeadline(c.deadline())
	var raw strings.Builder
	v, err := readValue(c.br, &raw)
	return reply{V: v, Raw: raw.String()}, err
}

// do sends a command and reads its reply.
func (c *client) do(args ...string) reply {
	c.t.Helper()
	c.send(args...)
	return c.read()
}

// expect sends a command and checks the exact bytes of its reply.
func (c *client) expect(want string, args ...string) {
	c.t.Helper()
	if got := c.do(args...).Raw; got != want {
		c.t.Errorf("%s: got %q, want %q", fmtArgs(args), got, want)
	}
}

// expectRead reads a reply and checks its exact bytes.
func (c *client) expectRead(want, what string) {
	c.t.Helper()
	if got := c.read().Raw; got != want {
		c.t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// expectClosed reads until the server closes the connection and fails if
// it does not within the deadline. Anything read first is returned.
func (c *client) expectClosed() []byte {
	c.t.Helper()
	got, err := c.drain()
	if err != nil {
		c.t.Fatalf("connection not closed by the server: %v (read %q)", err, clip(got))
	}
	return got
}

// drain reads until EOF. It returns a nil error when the server closed the
// connection (EOF or a reset) and the read error otherwise (a timeout).
func (c *client) drain() ([]byte, error) {
	c.nc.SetReadDeadline(c.deadline())
	got, err := io.ReadAll(c.br)
	if err == nil || isReset(err) {
		return got, nil
	}
	return got, err
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout() && strings.Contains(err.Error(), "reset")
}

func fmtArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(a) > 40 {
			a = a[:40] + "..."
		}
		b.WriteString(a)
	}
	return b.String()
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// maxTestBulk bounds what the test client accepts, so that a broken
// length header cannot make the test allocate without bound.
const maxTestBulk = 64 << 20

func readLine(br *bufio.Reader, raw *strings.Builder) (string, error) {
	line, err := br.ReadString('\n')
	raw.WriteString(line)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("line %q does not end in CRLF", line)
	}
	return line[:len(line)-2], nil
}

func readValue(br *bufio.Reader, raw *strings.Builder) (any, error) {
	line, err := readLine(br, raw)
	if err != nil {
		return nil, err
	}
	if line == "" {
		return nil, errors.New("empty line where a reply was expected")
	}
	body := line[1:]
	count := func() (int, error) {
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > maxTestBulk {
			return 0, fmt.Errorf("bad length in %q", line)
		}
		return n, nil
	}
	readN := func(n int) (string, error) {
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			raw.Write(b)
			return "", err
		}
		raw.Write(b)
		if b[n] != '\r' || b[n+1] != '\n' {
			return "", fmt.Errorf("bulk of %d bytes not followed by CRLF", n)
		}
		return string(b[:n]), nil
	}
	readList := func(n int) ([]any, error) {
		l := make([]any, 0, min(n, 1024))
		for range n {
			v, err := readValue(br, raw)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	switch line[0] {
	case '+':
		return Simple(body), nil
	case '-':
		return Err(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %q", line)
		}
		return n, nil
	case '$', '=', '!':
		n, err := count()
		if err != nil || n < 0 {
			return nil, err
		}
		s, err := readN(n)
		if err != nil {
			return nil, err
		}
		switch line[0] {
		case '=':
			if len(s) < 4 || s[3] != ':' {
				return nil, fmt.Errorf("bad verbatim string %q", s)
			}
			return Verbatim{Format: s[:3], Text: s[4:]}, nil
		case '!':
			return Err(s), nil
		}
		return s, nil
	case '*', '~', '>':
		n, err := count()
		if err != nil || n < 0 {
			return nil, err
		}
		l, err := readList(n)
		if err != nil {
			return nil, err
		}
		switch line[0] {
		case '~':
			return Set(l), nil
		case '>':
			return Push(l), nil
		}
		return l, nil
	case '%', '|':
		n, err := count()
		if err != nil || n < 0 {
			return nil, err
		}
		l, err := readList(2 * n)
		if err != nil {
			return nil, err
		}
		if line[0] == '|' { // attribute: the reply follows it
			return readValue(br, raw)
		}
		m := Map{}
		for i := 0; i < len(l); i += 2 {
			m[fmt.Sprint(l[i])] = l[i+1]
		}
		return m, nil
	case '_':
		if body != "" {
			return nil, fmt.Errorf("bad null %q", line)
		}
		return nil, nil
	case '#':
		switch body {
		case "t":
			return true, nil
		case "f":
			return false, nil
		}
		return nil, fmt.Errorf("bad boolean %q", line)
	case ',':
		f, err := strconv.ParseFloat(body, 64)
		if err != nil {
			return nil, fmt.Errorf("bad double %q", line)
		}
		return f, nil
	case '(':
		return BigNum(body), nil
	}
	return nil, fmt.Errorf("unknown reply type in %q", line)
}

// Tests of the test client itself, so that a failure elsewhere is the
// server's and not the parser's.
func TestClientParsesEveryType(t *testing.T) {
	t.Parallel()
	in := "+OK\r\n-ERR x\r\n:-5\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n_\r\n*2\r\n:1\r\n$0\r\n\r\n" +
		"%1\r\n$1\r\nk\r\n:2\r\n~1\r\n+a\r\n#t\r\n,1.5\r\n=7\r\ntxt:abc\r\n(123\r\n>1\r\n+p\r\n!3\r\nERR\r\n"
	want := []any{Simple("OK"), Err("ERR x"), int64(-5), "abc", nil, nil, nil, []any{int64(1), ""},
		Map{"k": int64(2)}, Set{Simple("a")}, true, 1.5, Verbatim{"txt", "abc"}, BigNum("123"), Push{Simple("p")}, Err("ERR")}
	br := bufio.NewReader(strings.NewReader(in))
	var all strings.Builder
	for i, w := range want {
		var raw strings.Builder
		v, err := readValue(br, &raw)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if fmt.Sprintf("%#v", v) != fmt.Sprintf("%#v", w) {
			t.Errorf("value %d: got %#v, want %#v", i, v, w)
		}
		all.WriteString(raw.String())
	}
	if all.String() != in {
		t.Errorf("raw bytes: got %q, want %q", all.String(), in)
	}
}
