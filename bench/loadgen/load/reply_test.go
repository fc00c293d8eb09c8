package load

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReaderRead(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reply
	}{
		{"ok", "+OK\r\n", Reply{Kind: '+', Text: "OK"}},
		{"pong", "+PONG\r\n", Reply{Kind: '+', Text: "PONG"}},
		{"error", "-ERR wrong number of arguments\r\n", Reply{Kind: '-', Err: "ERR wrong number of arguments"}},
		{"empty error", "-\r\n", Reply{Kind: '-', Err: "(empty error)"}},
		{"integer", ":1000000\r\n", Reply{Kind: ':', Int: 1000000}},
		{"negative integer", ":-2\r\n", Reply{Kind: ':', Int: -2}},
		{"bulk", "$5\r\nhello\r\n", Reply{Kind: '$', Len: 5}},
		{"bulk with CRLF inside", "$4\r\n\r\n\r\n\r\n", Reply{Kind: '$', Len: 4}},
		{"empty bulk", "$0\r\n\r\n", Reply{Kind: '$', Len: 0}},
		{"null bulk", "$-1\r\n", Reply{Kind: '$', Len: -1}},
		{"array", "*2\r\n$3\r\nfoo\r\n:1\r\n", Reply{Kind: '*', Len: 2}},
		{"null array", "*-1\r\n", Reply{Kind: '*', Len: -1}},
		{"nested array", "*2\r\n*1\r\n+a\r\n*0\r\n", Reply{Kind: '*', Len: 2}},
		{"array holding an error", "*2\r\n+QUEUED\r\n-EXECABORT x\r\n", Reply{Kind: '*', Len: 2, Err: "EXECABORT x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice in a row, read one byte at a time: every split of
			// the input must parse, and a reply must consume exactly
			// its own bytes.
			in := tt.in + tt.in + "+END\r\n"
			rd := NewReader(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16))
			for i := range 2 {
				got, err := rd.Read()
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if got != tt.want {
					t.Fatalf("read %d: got %+v, want %+v", i, got, tt.want)
				}
			}
			if got, err := rd.Read(); err != nil || got.Text != "END" {
				t.Fatalf("after: got %+v, %v; want +END", got, err)
			}
			if got := tt.want.IsError(); got != (tt.want.Kind == '-' || tt.want.Err != "") {
				t.Fatalf("IsError() = %v", got)
			}
		})
	}
}

func TestReaderLongLine(t *testing.T) {
	msg := "ERR " + strings.Repeat("x", 100)
	rd := NewReader(bufio.NewReaderSize(strings.NewReader("-"+msg+"\r\n"), 16))
	got, err := rd.Read()
	if err != nil || got.Err != msg {
		t.Fatalf("got %+v, %v; want error %q", got, err, msg)
	}
}

func TestReaderMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"unknown type", "%1\r\n", ErrProtocol},
		{"no CR", "+OK\n", ErrProtocol},
		{"bad integer", ":12a\r\n", ErrProtocol},
		{"empty integer", ":\r\n", ErrProtocol},
		{"lone minus", ":-\r\n", ErrProtocol},
		{"huge integer", ":1234567890123456789012\r\n", ErrProtocol},
		{"bulk length below -1", "$-2\r\n", ErrProtocol},
		{"bulk without CRLF", "$3\r\nfooXY", ErrProtocol},
		{"too deep", strings.Repeat("*1\r\n", maxDepth+1) + ":1\r\n", ErrProtocol},
		{"empty line", "\r\n", ErrProtocol},
		{"eof in line", "+OK", io.ErrUnexpectedEOF},
		{"eof in bulk", "$10\r\nabc", io.ErrUnexpectedEOF},
		{"eof in array", "*3\r\n:1\r\n", io.ErrUnexpectedEOF},
		{"eof at start", "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := NewReader(bufio.NewReaderSize(strings.NewReader(tt.in), 16))
			_, err := rd.Read()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAppendCommand(t *testing.T) {
	got := string(AppendCommand(nil, "SET", "k", ""))
	want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestBatchKeys(t *testing.T) {
	b := newBatch(OpSet, 2, 4)
	b.setKey(OpSet, 0, 42)
	b.setKey(OpSet, 1, 99_999_999)
	val := string(b.buf[len(b.buf)-6 : len(b.buf)-2])
	want := "*3\r\n$3\r\nSET\r\n$12\r\nkey:00000042\r\n$4\r\n" + val + "\r\n" +
		"*3\r\n$3\r\nSET\r\n$12\r\nkey:99999999\r\n$4\r\n" + val + "\r\n"
	if got := string(b.buf); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := string(b.upTo(1)); got != want[:len(want)/2] {
		t.Fatalf("upTo(1) = %q", got)
	}

	s := newBatch(OpSession, 1, 8)
	s.setKey(OpSession, 0, 7)
	cmd := string(s.buf)
	if !strings.HasPrefix(cmd, "*5\r\n$3\r\nSET\r\n$37\r\nsess:") || !strings.HasSuffix(cmd, "\r\n$2\r\nEX\r\n$5\r\n86400\r\n") {
		t.Fatalf("session command %q", cmd)
	}

	seen := map[string]bool{}
	for k := range uint64(10_000) {
		s.setKey(OpSession, 0, k)
		id := string(s.buf[s.keys[0] : s.keys[0]+sessionDigits])
		if seen[id] {
			t.Fatalf("session id %s repeats at %d", id, k)
		}
		seen[id] = true
	}
}

func BenchmarkReaderRead(b *testing.B) {
	// Sixteen replies to a pipelined GET of 512-byte values.
	one := "$512\r\n" + strings.Repeat("v", 512) + "\r\n"
	in := strings.Repeat(one, 16)
	sr := strings.NewReader(in)
	br := bufio.NewReaderSize(sr, 64<<10)
	rd := NewReader(br)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		sr.Reset(in)
		br.Reset(sr)
		for range 16 {
			if _, err := rd.Read(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
