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
	tests := []readCase{
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
	testReads(t, RESP, tests)
	for _, tt := range tests {
		if got := tt.want.IsError(); got != (tt.want.Kind == '-' || tt.want.Err != "") {
			t.Errorf("%s: IsError() = %v", tt.name, got)
		}
	}
}

// readCase is a reply's bytes and what a reader must make of them.
type readCase struct {
	name string
	in   string
	want Reply
}

// testReads reads each case's input twice in a row, one byte at a time,
// then a trailing reply, with a reader of proto: every split of the
// input must parse to want, and a reply must consume exactly its own
// bytes.
func testReads(t *testing.T, proto Protocol, tests []readCase) {
	t.Helper()
	trailer, text := "+END\r\n", "END"
	if proto == Memcache {
		trailer, text = "STORED\r\n", "STORED"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in + tt.in + trailer
			rd := newReplyReader(proto, bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16))
			for i := range 2 {
				got, err := rd.Read()
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if got != tt.want {
					t.Fatalf("read %d: got %+v, want %+v", i, got, tt.want)
				}
			}
			if got, err := rd.Read(); err != nil || got.Text != text {
				t.Fatalf("after: got %+v, %v; want %q", got, err, trailer)
			}
		})
	}
}

// malformedCase is a broken reply and the error a reader must return.
type malformedCase struct {
	name string
	in   string
	want error
}

// testMalformed reads each case's input with a reader of proto and wants
// an error that is want.
func testMalformed(t *testing.T, proto Protocol, tests []malformedCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newReplyReader(proto, bufio.NewReaderSize(strings.NewReader(tt.in), 16)).Read()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
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
	tests := []malformedCase{
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
	testMalformed(t, RESP, tests)
}

func TestAppendCommand(t *testing.T) {
	got := string(AppendCommand(nil, "SET", "k", ""))
	want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func BenchmarkReaderRead(b *testing.B) {
	// Sixteen replies to a pipelined GET of 512-byte values.
	benchmarkRead(b, RESP, "$512\r\n"+strings.Repeat("v", 512)+"\r\n")
}

// benchmarkRead reads sixteen replies one in a row with a reader of
// proto.
func benchmarkRead(b *testing.B, proto Protocol, one string) {
	in := strings.Repeat(one, 16)
	sr := strings.NewReader(in)
	br := bufio.NewReaderSize(sr, 64<<10)
	rd := newReplyReader(proto, br)
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

func TestReadText(t *testing.T) {
	for _, tt := range []struct {
		in, text string
		ok       bool
		err      string // "" for none; "reply:" prefix for a ReplyError
	}{
		{"+OK\r\n", "OK", true, ""},
		{":42\r\n", "42", true, ""},
		{"$5\r\nhello\r\n", "hello", true, ""},
		{"$-1\r\n", "", false, ""},
		{"-LOADING busy\r\n", "", false, "reply:LOADING busy"},
		{"$99999999999\r\n", "", false, "bad bulk length"},
		{"*1\r\n", "", false, "unexpected reply"},
		{"+\n", "", false, "short reply"},
		{"$5\r\nhel", "", false, "EOF"},
	} {
		text, ok, err := ReadText(bufio.NewReader(strings.NewReader(tt.in)))
		var re ReplyError
		switch {
		case strings.HasPrefix(tt.err, "reply:"):
			if !errors.As(err, &re) || string(re) != tt.err[6:] {
				t.Errorf("%q: %v, want the error reply %q", tt.in, err, tt.err[6:])
			}
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) || errors.As(err, &re) {
				t.Errorf("%q: %v, want an error saying %q", tt.in, err, tt.err)
			}
		case err != nil || text != tt.text || ok != tt.ok:
			t.Errorf("%q: %q %v %v, want %q %v", tt.in, text, ok, err, tt.text, tt.ok)
		}
	}
}
