package resp

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

var writerTests = []struct {
	name         string
	write        func(w *Writer)
	resp2, resp3 string
}{
	{"simple", func(w *Writer) { w.Simple("PONG") }, "+PONG\r\n", "+PONG\r\n"},
	{"ok", func(w *Writer) { w.OK() }, "+OK\r\n", "+OK\r\n"},
	{"error", func(w *Writer) { w.Error("ERR syntax error") }, "-ERR syntax error\r\n", "-ERR syntax error\r\n"},
	{"error with line breaks", func(w *Writer) { w.Error("ERR bad 'a\r\nb\nc\r'") }, "-ERR bad 'a  b c '\r\n", "-ERR bad 'a  b c '\r\n"},
	{"error injection", func(w *Writer) { w.Error("ERR x\r\n+OK") }, "-ERR x  +OK\r\n", "-ERR x  +OK\r\n"},
	{"int", func(w *Writer) { w.Int(42) }, ":42\r\n", ":42\r\n"},
	{"int zero", func(w *Writer) { w.Int(0) }, ":0\r\n", ":0\r\n"},
	{"int min", func(w *Writer) { w.Int(math.MinInt64) }, ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
	{"int max", func(w *Writer) { w.Int(math.MaxInt64) }, ":9223372036854775807\r\n", ":9223372036854775807\r\n"},
	{"bulk", func(w *Writer) { w.Bulk([]byte("hello")) }, "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
	{"bulk binary", func(w *Writer) { w.Bulk([]byte("a\r\nb\x00")) }, "$5\r\na\r\nb\x00\r\n", "$5\r\na\r\nb\x00\r\n"},
	{"bulk empty", func(w *Writer) { w.Bulk([]byte{}) }, "$0\r\n\r\n", "$0\r\n\r\n"},
	{"bulk nil", func(w *Writer) { w.Bulk(nil) }, "$0\r\n\r\n", "$0\r\n\r\n"},
	{"bulk string", func(w *Writer) { w.BulkString("héllo") }, "$6\r\nhéllo\r\n", "$6\r\nhéllo\r\n"},
	{"null", func(w *Writer) { w.Null() }, "$-1\r\n", "_\r\n"},
	{"null array", func(w *Writer) { w.NullArray() }, "*-1\r\n", "_\r\n"},
	{"array", func(w *Writer) { w.Array(2); w.BulkString("a"); w.Int(1) }, "*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n$1\r\na\r\n:1\r\n"},
	{"empty array", func(w *Writer) { w.Array(0) }, "*0\r\n", "*0\r\n"},
	{"map", func(w *Writer) { w.Map(1); w.BulkString("k"); w.Int(7) }, "*2\r\n$1\r\nk\r\n:7\r\n", "%1\r\n$1\r\nk\r\n:7\r\n"},
	{"empty map", func(w *Writer) { w.Map(0) }, "*0\r\n", "%0\r\n"},
	{"set", func(w *Writer) { w.Set(2); w.BulkString("a"); w.BulkString("b") }, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "~2\r\n$1\r\na\r\n$1\r\nb\r\n"},
	{"true", func(w *Writer) { w.Bool(true) }, ":1\r\n", "#t\r\n"},
	{"false", func(w *Writer) { w.Bool(false) }, ":0\r\n", "#f\r\n"},
	{"double", func(w *Writer) { w.Double(1.5) }, "$3\r\n1.5\r\n", ",1.5\r\n"},
	{"double integral", func(w *Writer) { w.Double(100) }, "$3\r\n100\r\n", ",100\r\n"},
	{"double 17 digits", func(w *Writer) { w.Double(0.1) }, "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"},
	{"double exponent", func(w *Writer) { w.Double(1e20) }, "$5\r\n1e+20\r\n", ",1e+20\r\n"},
	{"double small", func(w *Writer) { w.Double(1e-5) }, "$22\r\n1.0000000000000001e-05\r\n", ",1.0000000000000001e-05\r\n"},
	{"double negative zero", func(w *Writer) { w.Double(math.Copysign(0, -1)) }, "$2\r\n-0\r\n", ",-0\r\n"},
	{"double inf", func(w *Writer) { w.Double(math.Inf(1)) }, "$3\r\ninf\r\n", ",inf\r\n"},
	{"double -inf", func(w *Writer) { w.Double(math.Inf(-1)) }, "$4\r\n-inf\r\n", ",-inf\r\n"},
	{"double nan", func(w *Writer) { w.Double(math.NaN()) }, "$3\r\nnan\r\n", ",nan\r\n"},
	{"verbatim", func(w *Writer) { w.Verbatim("txt", "some\r\ntext") }, "$10\r\nsome\r\ntext\r\n", "=14\r\ntxt:some\r\ntext\r\n"},
	{"verbatim empty", func(w *Writer) { w.Verbatim("mkd", "") }, "$0\r\n\r\n", "=4\r\nmkd:\r\n"},
	{
		"nested",
		func(w *Writer) {
			w.Map(2)
			w.BulkString("list")
			w.Array(2)
			w.Null()
			w.Bool(true)
			w.BulkString("set")
			w.Set(1)
			w.Double(2)
		},
		"*4\r\n$4\r\nlist\r\n*2\r\n$-1\r\n:1\r\n$3\r\nset\r\n*1\r\n$1\r\n2\r\n",
		"%2\r\n$4\r\nlist\r\n*2\r\n_\r\n#t\r\n$3\r\nset\r\n~1\r\n,2\r\n",
	},
}

func TestWriter(t *testing.T) {
	for _, tt := range writerTests {
		t.Run(tt.name, func(t *testing.T) {
			for proto, want := range map[int]string{2: tt.resp2, 3: tt.resp3} {
				var out bytes.Buffer
				w := NewWriter(&out)
				w.Proto = proto
				tt.write(w)
				if out.Len() != 0 {
					t.Errorf("RESP%d: wrote before Flush", proto)
				}
				if w.Buffered() != len(want) {
					t.Errorf("RESP%d: Buffered() = %d, want %d", proto, w.Buffered(), len(want))
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				if out.String() != want {
					t.Errorf("RESP%d: got %q, want %q", proto, out.String(), want)
				}
				if w.Buffered() != 0 {
					t.Errorf("RESP%d: %d bytes buffered after Flush", proto, w.Buffered())
				}
			}
		})
	}
}

func TestWriterDefaultsToRESP2(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.Null()
	w.Flush()
	if out.String() != "$-1\r\n" {
		t.Errorf("got %q", out.String())
	}
}

// sizeRecorder records the size of every write.
type sizeRecorder struct {
	bytes.Buffer
	sizes []int
}

func (s *sizeRecorder) Write(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.Buffer.Write(p)
}

// allReplies writes one of every reply, large ones included.
func allReplies(w *Writer) {
	for _, tt := range writerTests {
		tt.write(w)
	}
	w.Array(3)
	w.Bulk(bytes.Repeat([]byte("0123456789"), 1000))
	w.BulkString(strings.Repeat("abcdefghij", 1000))
	w.Verbatim("txt", strings.Repeat("ABCDEFGHIJ", 1000))
	w.Error("ERR echoed " + strings.Repeat("klmno\r\npqr", 1000))
	w.Simple(strings.Repeat("STUVWXYZ", 1000))
}

// TestWriterFlushAt checks that with a small FlushAt the writer flushes in
// the middle of replies, even of one large bulk string, and that what the
// connection gets is the same as in one write.
func TestWriterFlushAt(t *testing.T) {
	for _, proto := range []int{2, 3} {
		var whole bytes.Buffer
		w := NewWriter(&whole)
		w.Proto = proto
		w.FlushAt = 1 << 30
		allReplies(w)
		w.Flush()

		for _, flushAt := range []int{1, 2, 3, 7, 64, 1000, 4096} {
			var out sizeRecorder
			w := NewWriter(&out)
			w.Proto = proto
			w.FlushAt = flushAt
			allReplies(w)
			if w.Buffered() > flushAt+32 {
				t.Errorf("RESP%d, FlushAt %d: %d bytes buffered", proto, flushAt, w.Buffered())
			}
			w.Flush()
			if !bytes.Equal(out.Bytes(), whole.Bytes()) {
				t.Fatalf("RESP%d, FlushAt %d: output differs", proto, flushAt)
			}
			if len(out.sizes) < whole.Len()/(flushAt+32) {
				t.Errorf("RESP%d, FlushAt %d: only %d writes", proto, flushAt, len(out.sizes))
			}
			for _, n := range out.sizes {
				// A header may come on top of a full buffer.
				if n > flushAt+32 {
					t.Fatalf("RESP%d, FlushAt %d: a write of %d bytes", proto, flushAt, n)
				}
			}
		}
	}
}

// TestWriterLargeBulk checks the default: a reply larger than FlushAt
// goes out in pieces of about FlushAt, never held whole.
func TestWriterLargeBulk(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20+3)
	var out sizeRecorder
	w := NewWriter(&out)
	w.Bulk(big)
	w.BulkString(string(big))
	w.Flush()
	want := "$1048579\r\n" + string(big) + "\r\n$1048579\r\n" + string(big) + "\r\n"
	if out.String() != want {
		t.Fatal("output differs")
	}
	for _, n := range out.sizes {
		if n > 64<<10+32 {
			t.Fatalf("a write of %d bytes", n)
		}
	}
}

// TestWriterLongLine checks that an error or simple string longer than
// FlushAt, such as an error that echoes a client's large argument, goes out
// in pieces of about FlushAt as a bulk string does, with the same bytes (an
// error's line breaks made spaces), and does not grow the buffer to its
// size.
func TestWriterLongLine(t *testing.T) {
	var out sizeRecorder
	w := NewWriter(&out)
	w.Error("ERR Unsupported option " + strings.Repeat("ab\r\ncd\n\r", 100<<10))
	w.Simple(strings.Repeat("s", 800<<10))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "-ERR Unsupported option " + strings.Repeat("ab  cd  ", 100<<10) + "\r\n+" + strings.Repeat("s", 800<<10) + "\r\n"
	if out.String() != want {
		t.Fatal("output differs")
	}
	for _, n := range out.sizes {
		if n > 64<<10+32 {
			t.Fatalf("a write of %d bytes", n)
		}
	}
	if c := cap(w.buf); c > 2*64<<10 {
		t.Errorf("a buffer of %d bytes after the replies", c)
	}
}

// TestWriterShrink checks that Shrink gives back a buffer that grew past
// its initial size, once flushed, so that an idle connection holds only a
// small one however large its last replies were; and that it keeps a
// buffer that did not grow, without allocating, and one that holds
// replies not yet flushed.
func TestWriterShrink(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, batch := range []func(){
		// A batch of replies of more than FlushAt in all.
		func() {
			for range 100 {
				w.Bulk(make([]byte, 1000))
			}
		},
		// An error that echoes a client's 800 KB argument.
		func() { w.Error("ERR Unsupported option " + strings.Repeat("x", 800<<10)) },
	} {
		batch()
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if cap(w.buf) <= initialOut {
			t.Fatalf("the buffer did not grow")
		}
		w.Shrink()
		if c := cap(w.buf); c > initialOut {
			t.Errorf("after Flush and Shrink, a buffer of %d bytes", c)
		}
	}

	w.Bulk(make([]byte, 2*initialOut))
	c := cap(w.buf)
	w.Shrink()
	if w.Buffered() != 2*initialOut+len("$8192\r\n\r\n") || cap(w.buf) != c {
		t.Errorf("Shrink changed a buffer holding a reply")
	}
	out.Reset()
	w.Flush()
	if want := "$8192\r\n" + string(make([]byte, 2*initialOut)) + "\r\n"; out.String() != want {
		t.Errorf("after Shrink, the reply buffered went out as %.40q", out.String())
	}

	w = NewWriter(io.Discard)
	if n := testing.AllocsPerRun(100, func() {
		w.Simple("PONG")
		w.Error("ERR syntax error")
		w.Flush()
		w.Shrink()
	}); n != 0 {
		t.Errorf("%v allocations per batch of replies, Flush and Shrink", n)
	}
	// A pipeline's batch of 16 replies of 512-byte values keeps its
	// buffer from one batch to the next.
	value := make([]byte, 512)
	if n := testing.AllocsPerRun(100, func() {
		for range 16 {
			w.Bulk(value)
		}
		w.Flush()
		w.Shrink()
	}); n != 0 {
		t.Errorf("%v allocations per batch of 16 GET replies, Flush and Shrink", n)
	}
}

var errBroken = errors.New("broken pipe")

// failingWriter accepts ok writes, then fails every one.
type failingWriter struct {
	ok, calls int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.calls++
	if f.calls > f.ok {
		return 0, errBroken
	}
	return len(p), nil
}

// TestWriterError checks that after a failed write the writer keeps the
// error, writes nothing more, and does not panic, whatever is written.
func TestWriterError(t *testing.T) {
	for _, ok := range []int{0, 1, 3} {
		f := &failingWriter{ok: ok}
		w := NewWriter(f)
		w.FlushAt = 100
		for range 5 {
			allReplies(w)
			w.Flush()
		}
		if w.Err() != errBroken {
			t.Errorf("%d good writes: Err() = %v", ok, w.Err())
		}
		if err := w.Flush(); err != errBroken {
			t.Errorf("%d good writes: Flush() = %v", ok, err)
		}
		if f.calls != ok+1 {
			t.Errorf("%d good writes: %d calls to Write; want none after the failure", ok, f.calls)
		}
	}
}

func TestWriterNoErrorBeforeFlush(t *testing.T) {
	w := NewWriter(&failingWriter{})
	w.OK()
	if w.Err() != nil {
		t.Errorf("Err() = %v before any write", w.Err())
	}
	if err := w.Flush(); err != errBroken {
		t.Errorf("Flush() = %v", err)
	}
}

// BenchmarkWriteBulk writes 512-byte bulk strings, flushed as the buffer
// fills. It must not allocate.
func BenchmarkWriteBulk(b *testing.B) {
	value := bytes.Repeat([]byte("v"), 512)
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		w.Bulk(value)
	}
	w.Flush()
}
