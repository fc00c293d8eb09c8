// Package resp reads and writes the Redis serialization protocol, RESP2 and
// RESP3, as a server needs it: commands in (arrays of bulk strings, or the
// inline form a telnet user types), replies out. It does no I/O policy of
// its own beyond the limits it is given; the server decides what to do with
// an error.
package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits bound what one command may make the reader hold. Every limit a
// client controls is here.
type Limits struct {
	// MaxArgs is the most arguments a command may have. If zero, 1,048,576.
	MaxArgs int
	// MaxBulk is the longest argument, in bytes. If zero, 512 MiB.
	MaxBulk int
	// MaxInline is the longest inline command line, and the longest
	// length header. If zero, 64 KiB.
	MaxInline int
	// MaxCommand is the most bytes one command may take in all. If zero,
	// MaxBulk plus 1 MiB.
	MaxCommand int
}

// Limits for a connection that has not authenticated yet, as Redis has them
// (CVE-2021-32675): a client without the password cannot make the server
// hold more than a few hundred KiB.
const (
	unauthArgs = 10
	unauthBulk = 16 << 10
)

// ProtocolError is a malformed command. The server replies with it, as
// "-ERR Protocol error: ...", and closes the connection: after one, the
// reader cannot tell where the next command starts.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

func protoErr(format string, a ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, a...)}
}

// Reader reads commands from a connection. It reads as much as the
// connection has ready into one buffer and parses commands out of it, so a
// pipelined batch costs one read; Buffered tells the server when the batch
// is done and replies should be flushed.
type Reader struct {
	rd  io.Reader
	lim Limits
	// Unauthenticated applies Redis's tight limits for clients that have
	// not given the password yet.
	Unauthenticated bool
	// BeforeRead, if set, runs before every read from the connection,
	// that is whenever no complete command is buffered: the moment a
	// server must flush its replies before it waits for more input.
	BeforeRead func() error

	buf  []byte
	r, w int // unread data is buf[r:w]

	// The command being parsed, kept across reads so that a command that
	// arrives in many pieces is parsed once, not again on every read.
	inCmd   bool
	nargs   int      // arguments announced by the array header
	pos     int      // parse position, relative to r
	spans   [][2]int // arguments found so far, relative to r
	args    [][]byte
	initial int
}

// NewReader returns a reader of commands from rd.
func NewReader(rd io.Reader, lim Limits) *Reader {
	if lim.MaxArgs <= 0 {
		lim.MaxArgs = 1 << 20
	}
	if lim.MaxBulk <= 0 {
		lim.MaxBulk = 512 << 20
	}
	if lim.MaxInline <= 0 {
		lim.MaxInline = 64 << 10
	}
	if lim.MaxCommand <= 0 {
		lim.MaxCommand = lim.MaxBulk + 1<<20
	}
	const initial = 16 << 10
	return &Reader{rd: rd, lim: lim, buf: make([]byte, initial), initial: initial}
}

// Buffered returns the number of bytes read from the connection and not yet
// parsed. When it is zero, the batch the client sent is done.
func (r *Reader) Buffered() int { return r.w - r.r }

// ReadCommand returns the next command's arguments, reading from the
// connection only when no complete command is buffered. The arguments alias
// the reader's buffer: they are valid until the next call. An empty command
// (a blank inline line, or an array of zero elements) is skipped, as Redis
// skips it. A *ProtocolError means the stream is broken; other errors come
// from the connection (io.EOF when the client closed it between commands).
func (r *Reader) ReadCommand() ([][]byte, error) {
	for {
		args, ok, err := r.parse()
		if err != nil {
			return nil, err
		}
		if ok {
			if len(args) == 0 {
				continue
			}
			return args, nil
		}
		if err := r.fill(); err != nil {
			if errors.Is(err, io.EOF) && (r.inCmd || r.w > r.r) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// fill reads more data, making room first: parsed bytes are dropped, and
// the buffer grows, up to what the limits allow, if the command in progress
// fills it.
func (r *Reader) fill() error {
	if r.r > 0 {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.r, r.w = 0, n
	}
	if r.w == len(r.buf) {
		if len(r.buf) >= r.lim.MaxCommand+r.lim.MaxInline {
			return protoErr("command of more than %d bytes", r.lim.MaxCommand)
		}
		nb := make([]byte, min(2*len(r.buf), r.lim.MaxCommand+r.lim.MaxInline))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	if r.BeforeRead != nil {
		if err := r.BeforeRead(); err != nil {
			return err
		}
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Shrink gives back a buffer that grew for a large command, once it is no
// longer needed, so that an idle connection holds only a small one.
func (r *Reader) Shrink() {
	if len(r.buf) > r.initial && r.w-r.r <= r.initial && !r.inCmd {
		nb := make([]byte, r.initial)
		r.w = copy(nb, r.buf[r.r:r.w])
		r.r = 0
		r.buf = nb
	}
}

// parse tries to complete a command from the buffer.
func (r *Reader) parse() ([][]byte, bool, error) {
	if !r.inCmd {
		if r.r == r.w {
			return nil, false, nil
		}
		if r.buf[r.r] != '*' {
			return r.parseInline()
		}
		n, end, err := r.readNumber(r.r, "multibulk count")
		if err != nil || end < 0 {
			return nil, false, err
		}
		switch {
		case n > int64(r.lim.MaxArgs):
			return nil, false, protoErr("invalid multibulk length")
		case n > unauthArgs && r.Unauthenticated:
			return nil, false, protoErr("unauthenticated multibulk length")
		case n <= 0:
			r.r = end
			return nil, true, nil
		}
		r.inCmd = true
		r.nargs = int(n)
		r.pos = end - r.r
		r.spans = r.spans[:0]
	}
	for len(r.spans) < r.nargs {
		p := r.r + r.pos
		if p >= r.w {
			return nil, false, nil
		}
		if r.buf[p] != '$' {
			return nil, false, protoErr("expected '$', got '%c'", r.buf[p])
		}
		n, end, err := r.readNumber(p, "bulk count")
		if err != nil || end < 0 {
			return nil, false, err
		}
		switch {
		case n < 0 || n > int64(r.lim.MaxBulk):
			return nil, false, protoErr("invalid bulk length")
		case n > unauthBulk && r.Unauthenticated:
			return nil, false, protoErr("unauthenticated bulk length")
		case int64(end-r.r)+n > int64(r.lim.MaxCommand):
			return nil, false, protoErr("command of more than %d bytes", r.lim.MaxCommand)
		}
		if int64(r.w-end) < n+2 {
			return nil, false, nil
		}
		stop := end + int(n)
		if r.buf[stop] != '\r' || r.buf[stop+1] != '\n' {
			return nil, false, protoErr("bulk of %d bytes not followed by CRLF", n)
		}
		r.spans = append(r.spans, [2]int{end - r.r, stop - r.r})
		r.pos = stop + 2 - r.r
	}
	r.args = r.args[:0]
	for _, s := range r.spans {
		r.args = append(r.args, r.buf[r.r+s[0]:r.r+s[1]:r.r+s[1]])
	}
	r.r += r.pos
	r.inCmd = false
	return r.args, true, nil
}

// readNumber parses the "*N\r\n" or "$N\r\n" header at p. It returns end <
// 0 when the line is not complete yet.
func (r *Reader) readNumber(p int, what string) (n int64, end int, err error) {
	i := bytes.IndexByte(r.buf[p:r.w], '\n')
	if i < 0 {
		if r.w-p > r.lim.MaxInline {
			return 0, 0, protoErr("too big %s string", what)
		}
		return 0, -1, nil
	}
	line := r.buf[p+1 : p+i]
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, 0, protoErr("invalid %s: no CR before LF", what)
	}
	n, ok := parseInt(line[:len(line)-1])
	if !ok {
		if what == "bulk count" {
			return 0, 0, protoErr("invalid bulk length")
		}
		return 0, 0, protoErr("invalid multibulk length")
	}
	return n, p + i + 1, nil
}

// parseInt parses a decimal integer as Redis's string2ll does: an optional
// minus sign and digits, no spaces, no plus sign, no leading zeros.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// ParseInt parses a command argument as Redis parses an integer argument.
func ParseInt(b []byte) (int64, bool) { return parseInt(b) }

// parseInline parses a command typed as a line of words, as telnet users
// and redis-cli's --pipe mode without RESP send it.
func (r *Reader) parseInline() ([][]byte, bool, error) {
	i := bytes.IndexByte(r.buf[r.r:r.w], '\n')
	if i < 0 {
		if r.w-r.r > r.lim.MaxInline {
			return nil, false, protoErr("too big inline request")
		}
		return nil, false, nil
	}
	line := r.buf[r.r : r.r+i]
	r.r += i + 1
	line = bytes.TrimSuffix(line, []byte{'\r'})
	args, err := splitArgs(line, r.args[:0])
	if err != nil {
		return nil, false, err
	}
	if len(args) > r.lim.MaxArgs || (r.Unauthenticated && len(args) > unauthArgs) {
		return nil, false, protoErr("invalid multibulk length")
	}
	r.args = args
	return args, true, nil
}
