package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrProtocol is wrapped by every error about a malformed reply, in
// either protocol.
var ErrProtocol = errors.New("load: protocol error")

// maxDepth bounds the nesting of arrays a reply may have, so that a broken
// server cannot make the reader recurse without end.
const maxDepth = 8

// Reply is what a Reader keeps of one reply: enough to count errors and
// misses, never the payload of a bulk string. A MemcacheReader maps the
// memcached text protocol's replies onto the same shape (see there).
type Reply struct {
	// Kind is the RESP2 type byte: '+', '-', ':', '$' or '*'.
	Kind byte
	// Int is the value of an integer reply.
	Int int64
	// Len is the length of a bulk string or the element count of an
	// array; -1 for a null bulk string or a null array.
	Len int
	// Err is the message of an error reply (without the '-'), and of the
	// first error reply inside an array.
	Err string
	// Text is the content of a simple string reply.
	Text string
}

// IsError reports whether the reply is an error or an array holding one.
func (r Reply) IsError() bool { return r.Kind == '-' || r.Err != "" }

// Reader reads RESP2 replies and keeps nothing of them but their shape: it
// is a load generator's reader, built to skip replies quickly, not to
// return them. Simple strings keep their text (short: +OK, +PONG).
type Reader struct {
	r *bufio.Reader
}

// NewReader returns a Reader on r.
func NewReader(r *bufio.Reader) *Reader { return &Reader{r: r} }

// Read reads one whole reply.
func (rd *Reader) Read() (Reply, error) { return rd.read(0) }

func (rd *Reader) read(depth int) (Reply, error) {
	line, err := readLine(rd.r)
	if err != nil {
		return Reply{}, err
	}
	if len(line) == 0 {
		return Reply{}, fmt.Errorf("%w: empty line", ErrProtocol)
	}
	rep := Reply{Kind: line[0]}
	body := line[1:]
	switch rep.Kind {
	case '+':
		if string(body) != "OK" {
			rep.Text = string(body)
		} else {
			rep.Text = "OK" // the common case, without an allocation
		}
	case '-':
		rep.Err = string(body)
		if rep.Err == "" {
			rep.Err = "(empty error)"
		}
	case ':':
		rep.Int, err = parseInt(body)
		if err != nil {
			return Reply{}, err
		}
	case '$':
		n, err := parseInt(body)
		if err != nil {
			return Reply{}, err
		}
		if n < -1 {
			return Reply{}, fmt.Errorf("%w: bulk length %d", ErrProtocol, n)
		}
		rep.Len = int(n)
		if n >= 0 {
			if err := skipPayload(rd.r, int(n), "bulk string"); err != nil {
				return Reply{}, err
			}
		}
	case '*':
		n, err := parseInt(body)
		if err != nil {
			return Reply{}, err
		}
		if n < -1 {
			return Reply{}, fmt.Errorf("%w: array length %d", ErrProtocol, n)
		}
		if depth >= maxDepth {
			return Reply{}, fmt.Errorf("%w: arrays nested deeper than %d", ErrProtocol, maxDepth)
		}
		rep.Len = int(n)
		for range n {
			el, err := rd.read(depth + 1)
			if err != nil {
				return Reply{}, err
			}
			if rep.Err == "" && el.Err != "" {
				rep.Err = el.Err
			}
		}
	default:
		return Reply{}, fmt.Errorf("%w: unknown reply type %q", ErrProtocol, rep.Kind)
	}
	return rep, nil
}

// readLine returns the next line of r without its CRLF. The slice is
// valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer: only an error or a status
		// line can be, and they are rare, so copying is fine.
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line %q does not end in CRLF", ErrProtocol, line)
	}
	return line[:len(line)-2], nil
}

// skipPayload discards a payload of n bytes and the CRLF that must
// follow it; what names the payload in an error.
func skipPayload(r *bufio.Reader, n int, what string) error {
	if _, err := r.Discard(n); err != nil {
		return unexpectedEOF(err)
	}
	b, err := r.Peek(2)
	if err != nil {
		return unexpectedEOF(err)
	}
	if b[0] != '\r' || b[1] != '\n' {
		return fmt.Errorf("%w: %s not followed by CRLF", ErrProtocol, what)
	}
	_, err = r.Discard(2)
	return err
}

// parseInt parses a decimal integer without allocating.
func parseInt(b []byte) (int64, error) {
	orig := b
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	// 18 digits always fit an int64; no reply of interest is longer.
	if len(b) == 0 || len(b) > 18 {
		return 0, fmt.Errorf("%w: bad integer %q", ErrProtocol, orig)
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: bad integer %q", ErrProtocol, orig)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendCommand appends args encoded as a RESP2 array of bulk strings.
func AppendCommand(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// ReplyError is an error reply, as ReadText returns it.
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// ReadText reads one reply of a simple string, an integer or a bulk string
// of at most 64 MiB and returns its text (an integer's digits); ok is false
// for a null; an error reply is a ReplyError. It is for the few commands a
// benchmark reads the answer of (INFO, DBSIZE, a probe's GET), where Reader
// keeps none.
func ReadText(r *bufio.Reader) (text string, ok bool, err error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", false, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return "", false, fmt.Errorf("%w: short reply %q", ErrProtocol, line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return body, true, nil
	case '-':
		return "", false, ReplyError(body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 64<<20 {
			return "", false, fmt.Errorf("%w: bad bulk length %q", ErrProtocol, body)
		}
		if n < 0 {
			return "", false, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", false, err
		}
		return string(buf[:n]), true, nil
	}
	return "", false, fmt.Errorf("%w: unexpected reply %q", ErrProtocol, line)
}
