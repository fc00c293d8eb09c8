package resp

import (
	"io"
	"math"
	"strconv"
)

// Writer encodes replies into a buffer in the connection's protocol
// version. The server flushes the buffer once per batch of commands; a
// large reply is flushed as it grows, so one connection never holds more
// than about FlushAt bytes of output however large the reply.
type Writer struct {
	// Proto is 2 or 3 (after HELLO 3). Types RESP2 lacks (maps, sets,
	// nulls, booleans, doubles, verbatim strings) are written in RESP2's
	// nearest form.
	Proto int
	// FlushAt is the buffered size past which the writer flushes in the
	// middle of a reply. If zero, 64 KiB.
	FlushAt int
	// OnError, if set, is called with each error reply's message, as
	// Error writes it: for a server's error counts.
	OnError func(msg string)

	buf []byte
	out io.Writer
	err error
}

// initialOut is the capacity of a new writer's buffer, and of the one
// Shrink puts back.
const initialOut = 4096

// NewWriter returns a RESP2 writer that flushes to out.
func NewWriter(out io.Writer) *Writer {
	return &Writer{Proto: 2, out: out, buf: make([]byte, 0, initialOut)}
}

// Err returns the first error flushing met. After one, the writer
// discards output: the connection is broken.
func (w *Writer) Err() error { return w.err }

// Buffered returns the number of bytes waiting to be flushed.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes the buffered replies to the connection.
func (w *Writer) Flush() error {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.out.Write(w.buf)
	}
	w.buf = w.buf[:0]
	// Give back a buffer that grew for an unusual reply, but not one that
	// a FlushAt over 1 MiB makes every reply grow anew.
	if cap(w.buf) > max(1<<20, 2*w.flushAt()) {
		w.buf = make([]byte, 0, initialOut)
	}
	return w.err
}

// Shrink gives back a buffer that grew past keptOut for a large batch of
// replies, if nothing is buffered, so that an idle connection holds only a
// small one. The server calls it after Flush, before it waits for the next
// command.
func (w *Writer) Shrink() {
	if cap(w.buf) > keptOut && len(w.buf) == 0 {
		w.buf = make([]byte, 0, initialOut)
	}
}

// keptOut is the largest buffer Shrink keeps: a batch of 16 replies of
// 512-byte values (8.4 KB) grows the buffer to 16 KiB, and giving that back
// after every batch would allocate it anew for the next.
const keptOut = 16 << 10

func (w *Writer) flushAt() int {
	if w.FlushAt <= 0 {
		return 64 << 10
	}
	return w.FlushAt
}

func (w *Writer) grown() {
	if len(w.buf) >= w.flushAt() {
		w.Flush()
	}
}

// payload appends a bulk string's bytes, flushing each time the buffer
// reaches FlushAt, so that a reply larger than FlushAt is never held whole.
// With noBreaks, CR and LF become spaces as they are appended: the text of
// an error, however long, goes out the same way.
func payload[T string | []byte](w *Writer, b T, noBreaks bool) {
	if w.err != nil {
		return // the connection is broken; the bytes would be dropped
	}
	limit := w.flushAt()
	for len(b) > 0 {
		n := min(len(b), max(limit-len(w.buf), 0))
		start := len(w.buf)
		w.buf = append(w.buf, b[:n]...)
		if noBreaks {
			for i, c := range w.buf[start:] {
				if c == '\r' || c == '\n' {
					w.buf[start+i] = ' '
				}
			}
		}
		b = b[n:]
		if len(b) > 0 {
			w.Flush()
		}
	}
}

// line writes a reply of one line, a simple string or an error: prefix, s
// (its CR and LF made spaces with noBreaks) and CRLF. s goes out in FlushAt
// chunks as a bulk string's bytes do, so that a long one, such as a
// client's argument echoed in an error, does not grow the buffer.
func (w *Writer) line(prefix byte, s string, noBreaks bool) {
	w.buf = append(w.buf, prefix)
	payload(w, s, noBreaks)
	w.buf = append(w.buf, '\r', '\n')
	w.grown()
}

func (w *Writer) header(prefix byte, n int64) {
	w.buf = append(w.buf, prefix)
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.buf = append(w.buf, '\r', '\n')
}

// Simple writes a simple string, such as OK. s must not hold CR or LF.
func (w *Writer) Simple(s string) { w.line('+', s, false) }

// OK writes +OK.
func (w *Writer) OK() { w.Simple("OK") }

// Error writes an error reply. msg starts with the error code, as in "ERR
// syntax error" or "WRONGPASS ...". Line breaks in msg become spaces, so a
// client's text echoed in an error cannot break the stream.
func (w *Writer) Error(msg string) {
	if w.OnError != nil {
		w.OnError(msg)
	}
	w.line('-', msg, true)
}

// Int writes an integer.
func (w *Writer) Int(n int64) {
	w.header(':', n)
	w.grown()
}

// Bulk writes a bulk string.
func (w *Writer) Bulk(b []byte) {
	w.header('$', int64(len(b)))
	payload(w, b, false)
	w.buf = append(w.buf, '\r', '\n')
	w.grown()
}

// BulkString writes a bulk string.
func (w *Writer) BulkString(s string) {
	w.header('$', int64(len(s)))
	payload(w, s, false)
	w.buf = append(w.buf, '\r', '\n')
	w.grown()
}

// Null writes a null: $-1 in RESP2, _ in RESP3.
func (w *Writer) Null() {
	if w.Proto >= 3 {
		w.buf = append(w.buf, "_\r\n"...)
	} else {
		w.buf = append(w.buf, "$-1\r\n"...)
	}
	w.grown()
}

// NullArray writes a null array: *-1 in RESP2, _ in RESP3.
func (w *Writer) NullArray() {
	if w.Proto >= 3 {
		w.buf = append(w.buf, "_\r\n"...)
	} else {
		w.buf = append(w.buf, "*-1\r\n"...)
	}
	w.grown()
}

// Array writes the header of an array of n elements.
func (w *Writer) Array(n int) { w.header('*', int64(n)) }

// Map writes the header of a map of n pairs: a flat array of 2n elements
// in RESP2.
func (w *Writer) Map(n int) {
	if w.Proto >= 3 {
		w.header('%', int64(n))
	} else {
		w.header('*', int64(2*n))
	}
}

// Set writes the header of a set of n elements: an array in RESP2.
func (w *Writer) Set(n int) {
	if w.Proto >= 3 {
		w.header('~', int64(n))
	} else {
		w.header('*', int64(n))
	}
}

// Bool writes a boolean: #t/#f in RESP3, :1/:0 in RESP2.
func (w *Writer) Bool(b bool) {
	switch {
	case w.Proto >= 3 && b:
		w.buf = append(w.buf, "#t\r\n"...)
	case w.Proto >= 3:
		w.buf = append(w.buf, "#f\r\n"...)
	case b:
		w.buf = append(w.buf, ":1\r\n"...)
	default:
		w.buf = append(w.buf, ":0\r\n"...)
	}
	w.grown()
}

// Double writes a floating-point number: a double in RESP3, a bulk string
// in RESP2. The digits are C's %.17g, as Redis 7.0 writes them.
func (w *Writer) Double(f float64) {
	var s string
	switch {
	case math.IsInf(f, 1):
		s = "inf"
	case math.IsInf(f, -1):
		s = "-inf"
	case math.IsNaN(f):
		// Go spells it NaN; C and RESP3 spell it nan.
		s = "nan"
	default:
		s = strconv.FormatFloat(f, 'g', 17, 64)
	}
	if w.Proto >= 3 {
		w.line(',', s, false)
	} else {
		w.BulkString(s)
	}
}

// Verbatim writes a verbatim string of the given three-letter format
// ("txt"): a bulk string in RESP2.
func (w *Writer) Verbatim(format, s string) {
	if w.Proto < 3 {
		w.BulkString(s)
		return
	}
	w.header('=', int64(len(format)+1+len(s)))
	w.buf = append(w.buf, format...)
	w.buf = append(w.buf, ':')
	payload(w, s, false)
	w.buf = append(w.buf, '\r', '\n')
	w.grown()
}
