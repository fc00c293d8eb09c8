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
	"math"

	"github.com/sessiond/sessiond/internal/inbuf"
)

// Limits bound what one command may make the reader hold. Every limit a
// client controls is here.
type Limits struct {
	// MaxArgs is the most arguments a command may have. If zero, 1,048,576.
	MaxArgs int
	// MaxBulk is the longest argument, in bytes. If zero, 512 MiB.
	MaxBulk int
	// MaxInline is the longest inline command line, and the longest
	// length header, in bytes without the LF. A longer line is an error
	// as soon as MaxInline+1 bytes of it have arrived, whether or not its
	// end has, so the answer does not depend on how the connection split
	// the input. If zero, 64 KiB.
	MaxInline int
	// MaxCommand is the most bytes one command in the array form may take
	// in all, headers and CRLFs included. If zero, MaxBulk plus 1 MiB.
	MaxCommand int
}

// Limits for a connection that has not authenticated yet, as Redis has them
// (CVE-2021-32675): a client without the password cannot make the server
// hold more than a few hundred KiB. Like Redis, they bound the array form
// only: an inline command is already bounded by MaxInline.
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
	// server must flush its replies before it waits for more input. It
	// may call Shrink.
	BeforeRead func() error
	// AfterRead, if set, runs after every read from the connection that
	// brought input, before it is parsed: the moment to look at a batch
	// of commands as a whole (Ahead).
	AfterRead func()

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
	perr    error // the protocol error met, returned from then on
	// maxBuf bounds the buffer. parse never waits for more input with
	// more than MaxCommand+MaxInline bytes of one command buffered, so
	// one byte more is always room enough to decide.
	maxBuf int
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
		lim.MaxCommand = satAdd(lim.MaxBulk, 1<<20)
	}
	const initial = 16 << 10
	return &Reader{
		rd:      rd,
		lim:     lim,
		buf:     make([]byte, initial),
		initial: initial,
		maxBuf:  satAdd(satAdd(lim.MaxCommand, lim.MaxInline), 1),
	}
}

// satAdd adds non-negative ints, stopping at the largest int: limits set
// to "no limit" must not wrap around.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// Buffered returns the number of bytes read from the connection and not yet
// parsed. When it is zero, the batch the client sent is done.
func (r *Reader) Buffered() int { return r.w - r.r }

// ReadCommand returns the next command's arguments, reading from the
// connection only when no complete command is buffered. The arguments alias
// the reader's buffer: they are valid until the next call. An empty command
// (a blank inline line, or an array of zero elements) is skipped, as Redis
// skips it. A *ProtocolError means the stream is broken, and every later
// call returns it again; other errors come from the connection (io.EOF when
// the client closed it between commands), and a later call, after a read
// deadline say, goes on with the command in progress.
func (r *Reader) ReadCommand() ([][]byte, error) {
	if r.perr != nil {
		return nil, r.perr
	}
	for {
		args, ok, err := r.parse()
		if err != nil {
			r.perr = err
			return nil, err
		}
		if ok {
			if len(args) == 0 {
				continue
			}
			return args, nil
		}
		if err := r.fill(); err != nil {
			if _, ok := err.(*ProtocolError); ok {
				r.perr = err
			}
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
	// BeforeRead first: it may Shrink the buffer, which must not undo the
	// room made below.
	if r.BeforeRead != nil {
		if err := r.BeforeRead(); err != nil {
			return err
		}
	}
	var err error
	r.buf, r.r, r.w, err = inbuf.Fill(r.rd, r.buf, r.r, r.w, r.maxBuf)
	if errors.Is(err, inbuf.ErrFull) {
		// parse decides before a command gets this big; this is a
		// backstop.
		return protoErr("command of more than %d bytes", r.lim.MaxCommand)
	}
	if err == nil && r.AfterRead != nil {
		r.AfterRead()
	}
	return err
}

// Shrink gives back a buffer that grew for a large command, once it is no
// longer needed, so that an idle connection holds only a small one. The
// arguments ReadCommand returned last stay valid.
func (r *Reader) Shrink() {
	if r.inCmd {
		return
	}
	old := len(r.buf)
	r.buf, r.r, r.w = inbuf.Shrink(r.buf, r.r, r.w, r.initial)
	// The argument slots alias the buffer given back: the last command's,
	// and past their length those of every longer command before it,
	// which parse does not overwrite. Clearing them would change the
	// arguments last returned, which the caller may still hold, so the
	// slots are left to the caller and the next command gets new ones.
	// (spans holds offsets only.)
	if len(r.buf) != old {
		r.args = nil
	}
	// A command of a million arguments leaves 40 MB of these.
	if cap(r.spans) > maxKeptArgs {
		r.spans = nil
	}
	if cap(r.args) > maxKeptArgs {
		r.args = nil
	}
}

// maxKeptArgs is the most argument slots Shrink keeps for the next command.
const maxKeptArgs = 1024

// parse tries to complete a command from the buffer. It reports ok ==
// false when it needs more input; it decides every error from the bytes it
// has, so that input split into more reads gives the same result.
func (r *Reader) parse() ([][]byte, bool, error) {
	if !r.inCmd {
		if r.r == r.w {
			return nil, false, nil
		}
		if r.buf[r.r] != '*' {
			return r.parseInline()
		}
		nl, err := r.lineEnd(r.r, "too big mbulk count string")
		if err != nil || nl < 0 {
			return nil, false, err
		}
		n, err := r.header(r.r, nl, "invalid multibulk length")
		if err != nil {
			return nil, false, err
		}
		switch {
		case n > int64(r.lim.MaxArgs):
			return nil, false, protoErr("invalid multibulk length")
		case n > unauthArgs && r.Unauthenticated:
			return nil, false, protoErr("unauthenticated multibulk length")
		case n <= 0:
			r.r = nl + 1
			return nil, true, nil
		case nl+1-r.r > r.lim.MaxCommand:
			// Only a tiny MaxCommand gets here; checking keeps
			// true what maxBuf relies on.
			return nil, false, protoErr("command of more than %d bytes", r.lim.MaxCommand)
		}
		r.inCmd = true
		r.nargs = int(n)
		r.pos = nl + 1 - r.r
		r.spans = r.spans[:0]
	}
	for len(r.spans) < r.nargs {
		p := r.r + r.pos
		if p >= r.w {
			return nil, false, nil
		}
		// As Redis does, judge the type byte only once the line is
		// complete (or too long to be one).
		nl, err := r.lineEnd(p, "too big bulk count string")
		if err != nil || nl < 0 {
			return nil, false, err
		}
		if r.buf[p] != '$' {
			// The byte as it is, not as a rune: Redis prints it raw.
			return nil, false, protoErr("expected '$', got '%s'", r.buf[p:p+1])
		}
		n, err := r.header(p, nl, "invalid bulk length")
		if err != nil {
			return nil, false, err
		}
		end := nl + 1
		switch {
		case n < 0 || n > int64(r.lim.MaxBulk):
			return nil, false, protoErr("invalid bulk length")
		case n > unauthBulk && r.Unauthenticated:
			return nil, false, protoErr("unauthenticated bulk length")
		case int64(end-r.r)+n+2 > int64(r.lim.MaxCommand):
			return nil, false, protoErr("command of more than %d bytes", r.lim.MaxCommand)
		}
		if int64(r.w-end) < n+2 {
			return nil, false, nil
		}
		stop := end + int(n)
		if r.buf[stop] != '\r' || r.buf[stop+1] != '\n' {
			// Redis skips the two bytes unread; a client that
			// sends anything else there has lost count.
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

// lineEnd returns the index of the LF that ends the line starting at p, or
// -1 if it has not arrived yet. A line of more than MaxInline bytes is the
// error tooBig as soon as MaxInline+1 of them are buffered, so only the
// first MaxInline+1 bytes are ever searched.
func (r *Reader) lineEnd(p int, tooBig string) (int, error) {
	avail := r.buf[p:r.w]
	if len(avail) > r.lim.MaxInline {
		avail = avail[:r.lim.MaxInline+1]
	}
	if i := bytes.IndexByte(avail, '\n'); i >= 0 {
		return p + i, nil
	}
	if len(avail) > r.lim.MaxInline {
		return 0, protoErr("%s", tooBig)
	}
	return -1, nil
}

// header parses the number in the "*N\r\n" or "$N\r\n" line at p, whose LF
// is at nl. A line without its CR is invalid as Redis finds it: Redis
// looks for the CR, so the LF ends up inside the number.
func (r *Reader) header(p, nl int, invalid string) (int64, error) {
	line := r.buf[p+1 : nl]
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, protoErr("%s", invalid)
	}
	n, ok := parseInt(line[:len(line)-1])
	if !ok {
		return 0, protoErr("%s", invalid)
	}
	return n, nil
}

// parseInt parses a decimal integer as Redis's string2ll does: an optional
// minus sign and digits, no spaces, no plus sign, no leading zeros, at most
// 20 bytes. It runs for every bulk header, so it does not allocate.
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
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// ParseInt parses a command argument as Redis parses an integer argument.
func ParseInt(b []byte) (int64, bool) { return parseInt(b) }

// parseInline parses a command typed as a line of words, as telnet users
// and redis-cli's --pipe mode without RESP send it.
func (r *Reader) parseInline() ([][]byte, bool, error) {
	nl, err := r.lineEnd(r.r, "too big inline request")
	if err != nil || nl < 0 {
		return nil, false, err
	}
	line := r.buf[r.r:nl]
	r.r = nl + 1
	line = bytes.TrimSuffix(line, []byte{'\r'})
	args, err := splitArgs(line, r.args[:0])
	if err != nil {
		return nil, false, err
	}
	if len(args) > r.lim.MaxArgs {
		return nil, false, protoErr("invalid multibulk length")
	}
	r.args = args
	return args, true, nil
}
