package memcache

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.Value([]byte("a"), 2, []byte(`{"x":1}`))
	w.ValueCAS([]byte("b"), 4294967295, nil, 18446744073709551615)
	w.Line(End)
	for _, s := range []string{Stored, NotStored, Exists, NotFound, Deleted, Touched, OK, Reset} {
		w.Line(s)
	}
	w.Number(18446744073709551615)
	w.Error()
	w.ClientError("bad\r\nline")
	w.ServerError("object too large for cache")
	w.Stat("pid", "42")
	w.StatInt("items:1:number", -1)
	if out.Len() != 0 {
		t.Fatalf("wrote %q before Flush", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "VALUE a 2 7\r\n{\"x\":1}\r\nVALUE b 4294967295 0 18446744073709551615\r\n\r\nEND\r\n" +
		"STORED\r\nNOT_STORED\r\nEXISTS\r\nNOT_FOUND\r\nDELETED\r\nTOUCHED\r\nOK\r\nRESET\r\n" +
		"18446744073709551615\r\nERROR\r\nCLIENT_ERROR bad  line\r\nSERVER_ERROR object too large for cache\r\n" +
		"STAT pid 42\r\nSTAT items:1:number -1\r\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

// A value larger than FlushAt is written in pieces, never held whole.
func TestWriterLargeValue(t *testing.T) {
	var sizes []int
	var out bytes.Buffer
	w := NewWriter(writerFunc(func(p []byte) (int, error) {
		sizes = append(sizes, len(p))
		return out.Write(p)
	}))
	w.FlushAt = 1000
	v := bytes.Repeat([]byte("v"), 5000)
	w.Value([]byte("k"), 0, v)
	w.Flush()
	for _, n := range sizes {
		if n > 1000 {
			t.Errorf("a write of %d bytes, FlushAt 1000", n)
		}
	}
	if want := "VALUE k 0 5000\r\n" + string(v) + "\r\n"; out.String() != want {
		t.Errorf("wrote %d bytes, want %d", out.Len(), len(want))
	}
	if cap(w.buf) > 4096 {
		t.Errorf("buffer of %d bytes kept", cap(w.buf))
	}
}

// After a failed write the writer drops output and reports the error.
func TestWriterError(t *testing.T) {
	broken := errors.New("broken pipe")
	w := NewWriter(writerFunc(func(p []byte) (int, error) { return 0, broken }))
	w.Line(Stored)
	if err := w.Flush(); err != broken || w.Err() != broken {
		t.Errorf("Flush = %v, Err = %v; want %v", err, w.Err(), broken)
	}
	w.Value([]byte("k"), 0, []byte(strings.Repeat("x", 100<<10)))
	if w.Buffered() > 70<<10 {
		t.Errorf("%d bytes buffered on a broken connection", w.Buffered())
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func BenchmarkWriter(b *testing.B) {
	w := NewWriter(writerFunc(func(p []byte) (int, error) { return len(p), nil }))
	key, v := []byte("sess:0123456789abcdef0123456789abcd"), bytes.Repeat([]byte("v"), 512)
	b.ReportAllocs()
	for b.Loop() {
		w.Line(Stored)
		w.ValueCAS(key, 2, v, 1<<50)
		w.Line(End)
		w.Flush()
	}
}
