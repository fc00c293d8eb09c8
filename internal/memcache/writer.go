package memcache

import (
	"io"
	"strconv"
)

// Replies that are one word, as memcached sends them.
const (
	Stored    = "STORED"
	NotStored = "NOT_STORED"
	Exists    = "EXISTS"
	NotFound  = "NOT_FOUND"
	Deleted   = "DELETED"
	Touched   = "TOUCHED"
	End       = "END"
	OK        = "OK"
	Reset     = "RESET"
)

// Writer encodes replies into a buffer. The server flushes it once per batch
// of commands; a large reply is flushed as it grows, so one connection never
// holds more than about FlushAt bytes of output however large the reply.
type Writer struct {
	// FlushAt is the buffered size past which the writer flushes in the
	// middle of a reply. If zero, 64 KiB.
	FlushAt int
	// OnError, if set, is called with the first word of each error
	// reply (ERROR, CLIENT_ERROR or SERVER_ERROR) as it is written: for a
	// server's error counts.
	OnError func(kind string)

	buf []byte
	out io.Writer
	err error
}

// NewWriter returns a writer that flushes to out.
func NewWriter(out io.Writer) *Writer {
	return &Writer{out: out, buf: make([]byte, 0, 4096)}
}

// Err returns the first error flushing met. After one, the writer discards
// output: the connection is broken.
func (w *Writer) Err() error { return w.err }

// Buffered returns the number of bytes waiting to be flushed.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes the buffered replies to the connection.
func (w *Writer) Flush() error {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.out.Write(w.buf)
	}
	// Keep a small buffer for the next batch, not one a large value grew.
	if cap(w.buf) > 2*w.flushAt() {
		w.buf = make([]byte, 0, 4096)
	}
	w.buf = w.buf[:0]
	return w.err
}

func (w *Writer) flushAt() int {
	if w.FlushAt <= 0 {
		return 64 << 10
	}
	return w.FlushAt
}

// end ends a line and flushes if the buffer has reached FlushAt.
func (w *Writer) end() {
	w.buf = append(w.buf, '\r', '\n')
	if len(w.buf) >= w.flushAt() {
		w.Flush()
	}
}

// Line writes a reply line, such as Stored or "VERSION 1.6.18". s must not
// hold CR or LF.
func (w *Writer) Line(s string) {
	w.buf = append(w.buf, s...)
	w.end()
}

// Error writes ERROR, memcached's reply to a command it does not know.
func (w *Writer) Error() {
	if w.OnError != nil {
		w.OnError("ERROR")
	}
	w.Line("ERROR")
}

// ClientError writes "CLIENT_ERROR msg": the command was malformed.
func (w *Writer) ClientError(msg string) { w.errorLine("CLIENT_ERROR ", msg) }

// ServerError writes "SERVER_ERROR msg": the command was fine but could not
// be done.
func (w *Writer) ServerError(msg string) { w.errorLine("SERVER_ERROR ", msg) }

// errorLine writes prefix and msg, with line breaks in msg made spaces so
// that text echoed from a client cannot break the stream.
func (w *Writer) errorLine(prefix, msg string) {
	if w.OnError != nil {
		w.OnError(prefix[:len(prefix)-1])
	}
	w.buf = append(w.buf, prefix...)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.buf = append(w.buf, c)
	}
	w.end()
}

// Value writes a value of get or gat: "VALUE key flags bytes", then the data.
func (w *Writer) Value(key []byte, flags uint32, data []byte) {
	w.valueHeader(key, flags, len(data))
	w.data(data)
}

// ValueCAS writes a value of gets or gats, with its cas unique:
// "VALUE key flags bytes cas", then the data.
func (w *Writer) ValueCAS(key []byte, flags uint32, data []byte, cas uint64) {
	w.valueHeader(key, flags, len(data))
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendUint(w.buf, cas, 10)
	w.data(data)
}

func (w *Writer) valueHeader(key []byte, flags uint32, n int) {
	w.buf = append(w.buf, "VALUE "...)
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendUint(w.buf, uint64(flags), 10)
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendInt(w.buf, int64(n), 10)
}

// data ends the VALUE line and writes the data block, flushing each time
// the buffer reaches FlushAt, so that a value larger than FlushAt is never
// held whole.
func (w *Writer) data(b []byte) {
	w.buf = append(w.buf, '\r', '\n')
	limit := w.flushAt()
	for len(b) > 0 && w.err == nil {
		n := min(len(b), max(limit-len(w.buf), 0))
		w.buf = append(w.buf, b[:n]...)
		b = b[n:]
		if len(b) > 0 {
			w.Flush()
		}
	}
	w.end()
}

// Number writes the result of incr or decr.
func (w *Writer) Number(n uint64) {
	w.buf = strconv.AppendUint(w.buf, n, 10)
	w.end()
}

// Stat writes a line of stats: "STAT name value".
func (w *Writer) Stat(name, value string) {
	w.buf = append(w.buf, "STAT "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, value...)
	w.end()
}

// StatInt writes a line of stats with a number.
func (w *Writer) StatInt(name string, n int64) {
	w.Stat(name, strconv.FormatInt(n, 10))
}
