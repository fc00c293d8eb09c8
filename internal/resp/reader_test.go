package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"weak"

	"github.com/sessiond/sessiond/internal/inbuf"
)

// chunkReader is the readers' shared test input.
type chunkReader = inbuf.ChunkReader

// randomChunks returns a reader of data in chunks of random sizes, from
// one byte to all of it.
func randomChunks(data []byte, seed uint64) *chunkReader {
	rng := rand.New(rand.NewPCG(seed, seed))
	c := &chunkReader{Data: data}
	c.Next = func() int { return 1 + rng.IntN(len(c.Data)) }
	return c
}

// result is what a reader made of a whole stream: its commands, copied,
// and the error that ended it.
type result struct {
	cmds [][]string
	err  error
}

func (r result) String() string { return fmt.Sprintf("%q, %v", r.cmds, r.err) }

// readAll reads commands until an error, at most limit of them. With
// shrink, it has the reader Shrink before every read, as the server does.
func readAll(rd io.Reader, lim Limits, unauth, shrink bool, limit int) result {
	r := NewReader(rd, lim)
	r.Unauthenticated = unauth
	if shrink {
		r.BeforeRead = func() error { r.Shrink(); return nil }
	}
	var res result
	for range limit {
		args, err := r.ReadCommand()
		if err != nil {
			res.err = err
			return res
		}
		cmd := make([]string, len(args))
		for i, a := range args {
			cmd[i] = string(a)
		}
		res.cmds = append(res.cmds, cmd)
	}
	res.err = errors.New("too many commands: the reader does not progress")
	return res
}

// sameErr reports whether a and b are the same outcome: equal protocol
// errors, or the same sentinel.
func sameErr(a, b error) bool {
	var pa, pb *ProtocolError
	if errors.As(a, &pa) && errors.As(b, &pb) {
		return pa.Msg == pb.Msg
	}
	return a == b
}

// cmd encodes args as a RESP array of bulk strings.
func cmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func perr(msg string) error { return &ProtocolError{Msg: msg} }

type cmds = [][]string

var readerTests = []struct {
	name   string
	in     string
	lim    Limits
	unauth bool
	want   cmds
	err    error
}{
	// One command.
	{name: "ping", in: cmd("PING"), want: cmds{{"PING"}}, err: io.EOF},
	{name: "set", in: cmd("SET", "key", "value"), want: cmds{{"SET", "key", "value"}}, err: io.EOF},
	{name: "empty arg", in: cmd("ECHO", ""), want: cmds{{"ECHO", ""}}, err: io.EOF},
	{name: "binary arg", in: cmd("ECHO", "a\r\nb\x00\n\r\xff"), want: cmds{{"ECHO", "a\r\nb\x00\n\r\xff"}}, err: io.EOF},
	{name: "arg that looks like a header", in: cmd("ECHO", "\r\n$3\r\nfoo\r\n*1\r\n"), want: cmds{{"ECHO", "\r\n$3\r\nfoo\r\n*1\r\n"}}, err: io.EOF},
	{name: "no input", in: "", err: io.EOF},

	// Pipelines.
	{
		name: "pipeline",
		in:   cmd("SET", "a", "1") + cmd("GET", "a") + cmd("DEL", "a") + cmd("PING"),
		want: cmds{{"SET", "a", "1"}, {"GET", "a"}, {"DEL", "a"}, {"PING"}},
		err:  io.EOF,
	},
	{
		name: "pipeline mixing inline and arrays",
		in:   "PING\r\n" + cmd("ECHO", "x") + "ECHO y\n" + cmd("ECHO", "z"),
		want: cmds{{"PING"}, {"ECHO", "x"}, {"ECHO", "y"}, {"ECHO", "z"}},
		err:  io.EOF,
	},
	{
		name: "empty arrays skipped",
		in:   "*0\r\n*-1\r\n*-10\r\n" + cmd("PING") + "*0\r\n",
		want: cmds{{"PING"}},
		err:  io.EOF,
	},

	// Inline commands, as redis-server 7.0.15 splits them.
	{name: "inline CRLF", in: "PING\r\n", want: cmds{{"PING"}}, err: io.EOF},
	{name: "inline LF", in: "PING\n", want: cmds{{"PING"}}, err: io.EOF},
	{name: "inline blanks", in: "  SET \t k\t\tv  \r\n", want: cmds{{"SET", "k", "v"}}, err: io.EOF},
	{name: "inline CR inside", in: "FOO a\rb\r\n", want: cmds{{"FOO", "a", "b"}}, err: io.EOF},
	{name: "inline CR CR LF", in: "FOO a\r\r\n", want: cmds{{"FOO", "a"}}, err: io.EOF},
	{name: "empty lines skipped", in: "\r\n\n   \r\n\t\n\r\r\nPING\r\n\r\n", want: cmds{{"PING"}}, err: io.EOF},
	{name: "double quotes", in: `SET "a key" "a value"` + "\r\n", want: cmds{{"SET", "a key", "a value"}}, err: io.EOF},
	{name: "single quotes", in: `SET 'a key' 'a "value"'` + "\r\n", want: cmds{{"SET", "a key", `a "value"`}}, err: io.EOF},
	{name: "single quotes back to back", in: `SET 'a key' 'it''s'` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "single quote escape", in: `FOO 'a\'b' 'c\d' '\n'` + "\r\n", want: cmds{{"FOO", "a'b", `c\d`, `\n`}}, err: io.EOF},
	{name: "escapes", in: `FOO "\n\r\t\b\a\\\"\q"` + "\r\n", want: cmds{{"FOO", "\n\r\t\b\a\\\"q"}}, err: io.EOF},
	{name: "hex escapes", in: `FOO "\x41\x4a\x4A\x00\xff" "\x41\x4" "\x4g" "\xzz"` + "\r\n", want: cmds{{"FOO", "AJJ\x00\xff", "Ax4", "x4g", "xzz"}}, err: io.EOF},
	{name: "empty quoted args", in: `FOO "" '' b` + "\r\n", want: cmds{{"FOO", "", "", "b"}}, err: io.EOF},
	{name: "quote inside word", in: `FOO a"b c" d'e f'` + "\r\n", want: cmds{{"FOO", "ab c", "de f"}}, err: io.EOF},
	{name: "empty quote after word", in: `FOO x"" y` + "\r\n", want: cmds{{"FOO", "x", "y"}}, err: io.EOF},
	{name: "vertical tab inside word", in: "FOO a\vb c\fd\r\n", want: cmds{{"FOO", "a\vb", "c\fd"}}, err: io.EOF},
	{name: "vertical tab between words", in: "FOO \va \f\"b\"\v'c'\f\r\n", want: cmds{{"FOO", "a", "b", "c"}}, err: io.EOF},
	{name: "form feed then quote inside word", in: "FOO a\f\"b\"\r\n", want: cmds{{"FOO", "a\fb"}}, err: io.EOF},
	{name: "NUL is a character", in: "FOO a\x00b\r\n", want: cmds{{"FOO", "a\x00b"}}, err: io.EOF},
	{name: "unbalanced double", in: `FOO "abc` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "unbalanced escaped close", in: `FOO "abc\"` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "unbalanced trailing backslash", in: `FOO "a\` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "unbalanced single", in: `FOO 'abc` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "text after closing quote", in: `FOO ""x` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "quote after closing quote", in: `FOO "a"'b'` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "word after quoted part", in: `FOO a"b c"d` + "\r\n", err: perr("unbalanced quotes in request")},
	{name: "error after good commands", in: "PING\r\n" + `FOO "x` + "\r\n", want: cmds{{"PING"}}, err: perr("unbalanced quotes in request")},

	// Protocol errors, with Redis's texts.
	{name: "count -0", in: "*-0\r\n", err: perr("invalid multibulk length")},
	{name: "count +1", in: "*+1\r\n", err: perr("invalid multibulk length")},
	{name: "count 01", in: "*01\r\n", err: perr("invalid multibulk length")},
	{name: "count space", in: "*1 \r\n", err: perr("invalid multibulk length")},
	{name: "count empty", in: "*\r\n", err: perr("invalid multibulk length")},
	{name: "count letters", in: "*abc\r\n", err: perr("invalid multibulk length")},
	{name: "count without CR", in: "*1\n", err: perr("invalid multibulk length")},
	{name: "count over limit", in: "*20000000\r\n", err: perr("invalid multibulk length")},
	{name: "count over int32", in: "*3000000000\r\n", err: perr("invalid multibulk length")},
	{name: "count over int64", in: "*9223372036854775808\r\n", err: perr("invalid multibulk length")},
	{name: "wrong payload header", in: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", err: perr("expected '$', got 'f'")},
	{name: "type byte printed raw", in: "*1\r\n\xff\r\n", err: perr("expected '$', got '\xff'")},
	{name: "type byte CR", in: "*1\r\n\r\n", err: perr("expected '$', got '\r'")},
	{name: "type byte judged at end of line", in: "*1\r\nX", err: io.ErrUnexpectedEOF},
	{name: "bulk -1", in: "*1\r\n$-1\r\n", err: perr("invalid bulk length")},
	{name: "bulk letters", in: "*1\r\n$abc\r\n", err: perr("invalid bulk length")},
	{name: "bulk empty", in: "*1\r\n$\r\n", err: perr("invalid bulk length")},
	{name: "bulk without CR", in: "*1\r\n$3\nfoo\r\n", err: perr("invalid bulk length")},
	{name: "bulk 2^40", in: "*1\r\n$1099511627776\r\n", err: perr("invalid bulk length")},
	{name: "bulk over 512MB", in: "*1\r\n$536870913\r\n", err: perr("invalid bulk length")},
	{name: "bulk not followed by CRLF", in: "*1\r\n$3\r\nfooXY", err: perr("bulk of 3 bytes not followed by CRLF")},
	{name: "bulk followed by CR only", in: "*1\r\n$3\r\nfoo\rX", err: perr("bulk of 3 bytes not followed by CRLF")},
	{name: "too big mbulk count", in: "*" + strings.Repeat("1", 70000), err: perr("too big mbulk count string")},
	{name: "too big mbulk count, then LF", in: "*" + strings.Repeat("1", 70000) + "\r\n", err: perr("too big mbulk count string")},
	{name: "too big bulk count", in: "*1\r\n$" + strings.Repeat("1", 70000), err: perr("too big bulk count string")},
	{name: "too big bulk count line", in: "*1\r\n" + strings.Repeat("X", 70000), err: perr("too big bulk count string")},
	{name: "too big inline", in: strings.Repeat("A", 70000), err: perr("too big inline request")},
	{name: "too big inline, then LF", in: strings.Repeat("A", 70000) + "\r\n", err: perr("too big inline request")},
	{name: "inline just fits", in: "ECHO " + strings.Repeat("A", 65536-6) + "\r\n", want: cmds{{"ECHO", strings.Repeat("A", 65536-6)}}, err: io.EOF},
	{name: "inline one byte over", in: "ECHO " + strings.Repeat("A", 65536-5) + "\r\n", err: perr("too big inline request")},

	// Limits.
	{name: "MaxArgs", lim: Limits{MaxArgs: 2}, in: "*3\r\n", err: perr("invalid multibulk length")},
	{name: "MaxArgs fits", lim: Limits{MaxArgs: 2}, in: cmd("GET", "k"), want: cmds{{"GET", "k"}}, err: io.EOF},
	{name: "MaxArgs inline", lim: Limits{MaxArgs: 2}, in: "GET k x\r\n", err: perr("invalid multibulk length")},
	{name: "MaxBulk", lim: Limits{MaxBulk: 4}, in: "*1\r\n$5\r\n", err: perr("invalid bulk length")},
	{name: "MaxBulk fits", lim: Limits{MaxBulk: 4}, in: cmd("ECHO", "abcd"), want: cmds{{"ECHO", "abcd"}}, err: io.EOF},
	{name: "MaxInline", lim: Limits{MaxInline: 10}, in: "ECHO 12345\r\n", err: perr("too big inline request")},
	{name: "MaxInline fits", lim: Limits{MaxInline: 10}, in: "ECHO 1234\r\nECHO 12345\n", want: cmds{{"ECHO", "1234"}, {"ECHO", "12345"}}, err: io.EOF},
	{name: "MaxInline header", lim: Limits{MaxInline: 4}, in: "*1\r\n$10000\r\n", err: perr("too big bulk count string")},
	// cmd("ECHO", "0123456789") is 31 bytes.
	{name: "MaxCommand fits", lim: Limits{MaxCommand: 31}, in: cmd("ECHO", "0123456789"), want: cmds{{"ECHO", "0123456789"}}, err: io.EOF},
	{name: "MaxCommand", lim: Limits{MaxCommand: 31}, in: cmd("ECHO", "01234567890"), err: perr("command of more than 31 bytes")},
	{name: "MaxCommand headers count", lim: Limits{MaxCommand: 31}, in: cmd("A", "B", "C", "D", "E"), err: perr("command of more than 31 bytes")},
	{name: "MaxCommand under a header", lim: Limits{MaxCommand: 3}, in: "*0\r\n" + cmd("A"), err: perr("command of more than 3 bytes")},
	{name: "MaxCommand per command", lim: Limits{MaxCommand: 31}, in: cmd("ECHO", "0123456789") + cmd("ECHO", "0123456789"), want: cmds{{"ECHO", "0123456789"}, {"ECHO", "0123456789"}}, err: io.EOF},
	{name: "unauthenticated count", unauth: true, in: "*11\r\n", err: perr("unauthenticated multibulk length")},
	{name: "unauthenticated count fits", unauth: true, in: cmd("A", "B", "C", "D", "E", "F", "G", "H", "I", "J"), want: cmds{{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"}}, err: io.EOF},
	{name: "unauthenticated count over int32", unauth: true, in: "*3000000000\r\n", err: perr("invalid multibulk length")},
	{name: "unauthenticated bulk", unauth: true, in: "*1\r\n$16385\r\n", err: perr("unauthenticated bulk length")},
	{name: "unauthenticated bulk fits", unauth: true, in: cmd("ECHO", strings.Repeat("x", 16384)), want: cmds{{"ECHO", strings.Repeat("x", 16384)}}, err: io.EOF},
	{name: "unauthenticated negative bulk", unauth: true, in: "*1\r\n$-1\r\n", err: perr("invalid bulk length")},
	{name: "unauthenticated inline is not limited", unauth: true, in: "A B C D E F G H I J K L\r\n", want: cmds{{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L"}}, err: io.EOF},

	// End of input.
	{name: "EOF inside inline", in: "PING", err: io.ErrUnexpectedEOF},
	{name: "EOF inside count", in: "*1", err: io.ErrUnexpectedEOF},
	{name: "EOF after count", in: "*2\r\n", err: io.ErrUnexpectedEOF},
	{name: "EOF inside bulk header", in: "*1\r\n$3", err: io.ErrUnexpectedEOF},
	{name: "EOF inside bulk", in: "*1\r\n$3\r\nfo", err: io.ErrUnexpectedEOF},
	{name: "EOF before bulk CRLF", in: "*1\r\n$3\r\nfoo", err: io.ErrUnexpectedEOF},
	{name: "EOF between args", in: "*2\r\n$3\r\nfoo\r\n", err: io.ErrUnexpectedEOF},
	{name: "EOF after a command", in: cmd("PING") + "*1\r\n", want: cmds{{"PING"}}, err: io.ErrUnexpectedEOF},
	{name: "EOF after trailing blanks", in: "PING\r\n  ", want: cmds{{"PING"}}, err: io.ErrUnexpectedEOF},
}

// TestReadCommand runs every case with the input in one piece, one byte at
// a time, with data and EOF in the same read, and in chunks of random
// sizes: the result must not depend on how the connection splits it.
func TestReadCommand(t *testing.T) {
	for _, tt := range readerTests {
		t.Run(tt.name, func(t *testing.T) {
			want := result{tt.want, tt.err}
			in := []byte(tt.in)
			readers := map[string]func() io.Reader{
				"whole":    func() io.Reader { return bytes.NewReader(in) },
				"bytewise": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
				"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) },
			}
			for seed := range uint64(20) {
				readers[fmt.Sprint("random ", seed)] = func() io.Reader { return randomChunks(in, seed) }
			}
			for name, rd := range readers {
				for _, shrink := range []bool{false, true} {
					got := readAll(rd(), tt.lim, tt.unauth, shrink, 1000)
					if !slices.EqualFunc(got.cmds, want.cmds, slices.Equal) || !sameErr(got.err, want.err) {
						t.Errorf("%s, shrink %v: got %s, want %s", name, shrink, trunc(got), trunc(want))
					}
				}
			}
		})
	}
}

func trunc(r result) string {
	s := r.String()
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func TestProtocolErrorText(t *testing.T) {
	_, err := NewReader(strings.NewReader("*x\r\n"), Limits{}).ReadCommand()
	var pe *ProtocolError
	if !errors.As(err, &pe) || err.Error() != "Protocol error: invalid multibulk length" {
		t.Fatalf("got %v", err)
	}
}

// TestReadCommandBuffered checks that a batch read in one piece is parsed
// without more reads, and that Buffered counts down to zero exactly at its
// last command, the moment a server flushes its replies.
func TestReadCommandBuffered(t *testing.T) {
	parts := []string{cmd("SET", "k", "v"), "GET k\r\n", "*0\r\n", cmd("PING"), "\r\n", cmd("DEL", "k")}
	batch := strings.Join(parts, "")
	reads := 0
	r := NewReader(bytes.NewReader([]byte(batch)), Limits{})
	r.BeforeRead = func() error { reads++; return nil }
	// What is left after each command: the empty array and the blank
	// line are consumed with the command after them.
	left := []int{
		len(batch) - len(parts[0]),
		len(batch) - len(parts[0]) - len(parts[1]),
		len(parts[4]) + len(parts[5]),
		0,
	}
	for i, want := range left {
		if _, err := r.ReadCommand(); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if got := r.Buffered(); got != want {
			t.Errorf("after command %d: Buffered() = %d, want %d", i, got, want)
		}
	}
	if reads != 1 {
		t.Errorf("%d reads for one batch", reads)
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Errorf("after the batch: %v, want EOF", err)
	}
	if reads != 2 {
		t.Errorf("%d reads, want 2: BeforeRead must run before the read that finds EOF", reads)
	}
}

// TestReadCommandArgsCapped checks that appending to one argument cannot
// overwrite the next, which shares the buffer.
func TestReadCommandArgsCapped(t *testing.T) {
	for _, in := range []string{cmd("SET", "k", "v"), "SET k v\r\n"} {
		args, err := NewReader(strings.NewReader(in), Limits{}).ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		_ = append(args[1], "XXXX"...)
		if string(args[2]) != "v" {
			t.Errorf("%q: appending to an argument changed the next to %q", in, args[2])
		}
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReadCommandHugeCount checks that an array header announcing a
// million elements costs nothing until the elements arrive: Redis had to
// learn this (it allocates argv 1024 at a time since 7.0).
func TestReadCommandHugeCount(t *testing.T) {
	for _, tt := range []struct {
		in  string
		err error
	}{
		{"*1000000\r\n", io.ErrUnexpectedEOF},
		{"*1000000\r\n$1\r\na\r\n$3\r\nbcd\r\n", io.ErrUnexpectedEOF},
		{"*1000000\r\n$1\r\na\r\n$3\r\nbcd\r\nXX\r\n", perr("expected '$', got 'X'")},
	} {
		var err error
		n := allocated(func() {
			_, err = NewReader(strings.NewReader(tt.in), Limits{}).ReadCommand()
		})
		if !sameErr(err, tt.err) {
			t.Errorf("%q: %v, want %v", tt.in, err, tt.err)
		}
		// A slot per element would be 16 MB at least.
		if n > 256<<10 {
			t.Errorf("%q: allocated %d bytes", tt.in, n)
		}
	}
	allocs := testing.AllocsPerRun(10, func() {
		NewReader(strings.NewReader("*1000000\r\n"), Limits{}).ReadCommand()
	})
	if allocs > 3 { // the Reader, its buffer, the strings.Reader
		t.Errorf("%v allocations", allocs)
	}
}

// TestReadCommandHugeBulk checks that a bulk announced as 2^40 bytes is
// refused, and that where the limits allow it, the buffer grows only with
// the data that arrives, not with the claim.
func TestReadCommandHugeBulk(t *testing.T) {
	_, err := NewReader(strings.NewReader("*1\r\n$1099511627776\r\n"), Limits{}).ReadCommand()
	if !sameErr(err, perr("invalid bulk length")) {
		t.Errorf("with default limits: %v", err)
	}
	big := int64(1) << 41
	if big > math.MaxInt {
		t.Skip("needs 64-bit ints")
	}
	in := "*1\r\n$1099511627776\r\n" + strings.Repeat("x", 1<<20)
	n := allocated(func() {
		_, err = NewReader(strings.NewReader(in), Limits{MaxBulk: int(big)}).ReadCommand()
	})
	if err != io.ErrUnexpectedEOF {
		t.Errorf("got %v, want unexpected EOF", err)
	}
	if n > 8<<20 {
		t.Errorf("allocated %d bytes for 1 MiB of input", n)
	}
}

// endless repeats b forever.
type endless struct {
	b     []byte
	total int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b[(e.total+i)%len(e.b)]
	}
	e.total += len(p)
	return len(p), nil
}

// TestReadCommandEndless checks that a client that never ends a line, or
// never stops sending, is refused having sent little more than the limit.
func TestReadCommandEndless(t *testing.T) {
	for _, tt := range []struct {
		prefix, fill string
		err          error
	}{
		{"", "A", perr("too big inline request")},
		{"*", "1", perr("too big mbulk count string")},
		{"*1\r\n$", "1", perr("too big bulk count string")},
		{"*1\r\n", "x", perr("too big bulk count string")},
		{"*1\r\n$100\r\n", "x", perr("bulk of 100 bytes not followed by CRLF")},
	} {
		lim := Limits{MaxInline: 1000}
		rd := &endless{b: []byte(tt.fill)}
		r := NewReader(io.MultiReader(strings.NewReader(tt.prefix), rd), lim)
		_, err := r.ReadCommand()
		if !sameErr(err, tt.err) {
			t.Errorf("%q then %q forever: %v, want %v", tt.prefix, tt.fill, err, tt.err)
		}
		if rd.total > r.initial {
			t.Errorf("%q then %q forever: read %d bytes", tt.prefix, tt.fill, rd.total)
		}
	}
}

// TestShrink checks that after a large command the buffer can be given
// back, and that parsing goes on where it was, from the whole input or from
// chunks.
func TestShrink(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	in := []byte(cmd("SET", "k", big) + cmd("GET", "k") + "PING\r\n" + cmd("ECHO", big[:100]))
	want := cmds{{"SET", "k", big}, {"GET", "k"}, {"PING"}, {"ECHO", big[:100]}}
	for seed := range uint64(10) {
		r := NewReader(randomChunks(in, seed), Limits{})
		for i, w := range want {
			args, err := r.ReadCommand()
			if err != nil {
				t.Fatalf("seed %d, command %d: %v", seed, i, err)
			}
			if got := toStrings(args); !slices.Equal(got, w) {
				t.Fatalf("seed %d, command %d: got %.40q", seed, i, got)
			}
			if i == 0 && len(r.buf) <= r.initial {
				t.Fatalf("the buffer did not grow")
			}
			buffered := r.Buffered()
			r.Shrink()
			if r.Buffered() != buffered {
				t.Fatalf("Shrink changed Buffered from %d to %d", buffered, r.Buffered())
			}
			if buffered <= r.initial && len(r.buf) != r.initial {
				t.Fatalf("seed %d, command %d: %d bytes buffered, buffer of %d after Shrink", seed, i, buffered, len(r.buf))
			}
		}
		if _, err := r.ReadCommand(); err != io.EOF {
			t.Fatalf("seed %d: %v at the end", seed, err)
		}
	}
}

// TestShrinkInBeforeRead checks that BeforeRead may Shrink, as the server
// has it do, even when the buffer is full of a line in progress: once,
// fill grew the buffer, then BeforeRead shrank it back, and the read into
// no room failed.
func TestShrinkInBeforeRead(t *testing.T) {
	long := strings.Repeat("v", 20000)
	big := strings.Repeat("w", 100000)
	in := []byte("SET k " + long + "\r\n" + cmd("SET", "k", big) + "GET k\r\n" + "SET k " + long + "\n")
	want := cmds{{"SET", "k", long}, {"SET", "k", big}, {"GET", "k"}, {"SET", "k", long}}
	for seed := range uint64(20) {
		got := readAll(randomChunks(in, seed), Limits{}, false, true, 10)
		if !slices.EqualFunc(got.cmds, want, slices.Equal) || got.err != io.EOF {
			t.Errorf("seed %d: got %s", seed, trunc(got))
		}
	}
	got := readAll(iotest.HalfReader(bytes.NewReader(in)), Limits{}, false, true, 10)
	if !slices.EqualFunc(got.cmds, want, slices.Equal) || got.err != io.EOF {
		t.Errorf("half reads: got %s", trunc(got))
	}
}

// TestShrinkArgs checks that Shrink gives back the room a command of many
// arguments took, and that the arguments last returned stay valid.
func TestShrinkArgs(t *testing.T) {
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	r := NewReader(strings.NewReader(cmd(many...)+cmd("GET", "k")), Limits{})
	args, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	r.Shrink()
	if cap(r.spans) > maxKeptArgs || cap(r.args) > maxKeptArgs || len(r.buf) != r.initial {
		t.Errorf("after Shrink: %d spans, %d args, %d bytes of buffer", cap(r.spans), cap(r.args), len(r.buf))
	}
	if got := toStrings(args); !slices.Equal(got, many) {
		t.Errorf("Shrink changed the arguments returned")
	}
	args, err = r.ReadCommand()
	if err != nil || !slices.Equal(toStrings(args), []string{"GET", "k"}) {
		t.Errorf("after Shrink: %q, %v", args, err)
	}
}

// TestShrinkReleasesGrownBuffer checks that once Shrink has given back a
// buffer that grew for a large command, the reader holds nothing of it:
// not through the argument slots past the length of a later, shorter
// command either, which that command does not overwrite. An idle
// connection that once sent a 1 MB SET and then only a PING must not keep
// the 1 MB. Shrink runs in BeforeRead, as the server has it, or between
// commands; there the arguments last returned must stay valid.
func TestShrinkReleasesGrownBuffer(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	for _, inBeforeRead := range []bool{true, false} {
		// The large command in reads of its own, the PING in a later
		// one, as from a client that waited for the reply.
		src := &piecesReader{pieces: [][]byte{[]byte(cmd("SET", "k", big)), []byte(cmd("PING"))}}
		r := NewReader(src, Limits{})
		if inBeforeRead {
			r.BeforeRead = func() error { r.Shrink(); return nil }
		}
		args, err := r.ReadCommand()
		if err != nil || len(args) != 3 {
			t.Fatalf("first command: %d arguments, %v", len(args), err)
		}
		if len(r.buf) <= r.initial {
			t.Fatalf("the buffer did not grow")
		}
		grown := weak.Make(&r.buf[0])
		if !inBeforeRead {
			r.Shrink()
			if len(r.buf) != r.initial {
				t.Fatalf("Shrink left a buffer of %d bytes", len(r.buf))
			}
			if !slices.Equal(toStrings(args), []string{"SET", "k", big}) {
				t.Fatalf("Shrink changed the arguments returned")
			}
		}
		args = nil

		args, err = r.ReadCommand()
		if err != nil || !slices.Equal(toStrings(args), []string{"PING"}) {
			t.Fatalf("second command: %q, %v", args, err)
		}
		if len(r.buf) != r.initial {
			t.Fatalf("Shrink did not run: a buffer of %d bytes", len(r.buf))
		}
		args = nil
		runtime.GC()
		runtime.GC()
		if grown.Value() != nil {
			t.Errorf("Shrink in BeforeRead %v: after a 1-argument command, the reader still holds the buffer of the 3-argument command before it", inBeforeRead)
		}
		runtime.KeepAlive(r)
	}
}

// piecesReader returns each piece in as many reads as it takes, never two
// pieces in one read, then EOF.
type piecesReader struct{ pieces [][]byte }

func (p *piecesReader) Read(b []byte) (int, error) {
	for len(p.pieces) > 0 && len(p.pieces[0]) == 0 {
		p.pieces = p.pieces[1:]
	}
	if len(p.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.pieces[0])
	p.pieces[0] = p.pieces[0][n:]
	return n, nil
}

// TestProtocolErrorSticky checks that after a protocol error the reader
// does not go on to parse what follows, wherever the error was.
func TestProtocolErrorSticky(t *testing.T) {
	for _, in := range []string{
		`FOO "x` + "\r\nPING\r\n",
		"*1\r\n$-1\r\nPING\r\n",
		"*2\r\n$3\r\nGET\r\nX\r\nPING\r\n",
		strings.Repeat("A", 100) + "\nPING\r\n",
	} {
		r := NewReader(strings.NewReader(in), Limits{MaxInline: 50})
		_, first := r.ReadCommand()
		var pe *ProtocolError
		if !errors.As(first, &pe) {
			t.Fatalf("%q: %v", in, first)
		}
		for range 3 {
			if args, err := r.ReadCommand(); err != first {
				t.Errorf("%q: after %v, got %q, %v", in, first, args, err)
			}
		}
	}
}

var errTimeout = errors.New("timeout")

// stutter returns errTimeout once at each offset in at, and otherwise the
// data in pieces ending at those offsets: a connection whose read deadline
// passes mid-command.
type stutter struct {
	data []byte
	pos  int
	at   []int
}

func (s *stutter) Read(p []byte) (int, error) {
	if len(s.at) > 0 && s.pos == s.at[0] {
		s.at = s.at[1:]
		return 0, errTimeout
	}
	if s.pos == len(s.data) {
		return 0, io.EOF
	}
	end := len(s.data)
	if len(s.at) > 0 {
		end = s.at[0]
	}
	n := copy(p, s.data[s.pos:end])
	s.pos += n
	return n, nil
}

// TestReadCommandResumes checks that a read error such as a deadline loses
// nothing: the next call goes on with the command in progress. Shrink in
// the middle of a command must keep it.
func TestReadCommandResumes(t *testing.T) {
	big := strings.Repeat("y", 100<<10)
	in := cmd("SET", "k", big) + "PING\r\n"
	rd := &stutter{data: []byte(in), at: []int{3, 20, 50 << 10, len(in) - 3}}
	r := NewReader(rd, Limits{})
	var got cmds
	for range 10 {
		args, err := r.ReadCommand()
		if err == errTimeout {
			n := len(r.buf)
			r.Shrink()
			if r.inCmd && len(r.buf) != n {
				t.Fatal("Shrink dropped the buffer of a command in progress")
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, toStrings(args))
	}
	want := cmds{{"SET", "k", big}, {"PING"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got %.80q", got)
	}
}

// emptyReads returns (0, nil) n times before each piece of data.
type emptyReads struct {
	rd    io.Reader
	n     int
	count int
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.count < e.n {
		e.count++
		return 0, nil
	}
	e.count = 0
	return e.rd.Read(p)
}

func TestReadCommandEmptyReads(t *testing.T) {
	in := "PING\r\n"
	got := readAll(&emptyReads{rd: iotest.OneByteReader(strings.NewReader(in)), n: 5}, Limits{}, false, false, 10)
	if !slices.EqualFunc(got.cmds, cmds{{"PING"}}, slices.Equal) || got.err != io.EOF {
		t.Errorf("a few empty reads: %s", got)
	}
	got = readAll(&emptyReads{rd: strings.NewReader(in), n: 1000}, Limits{}, false, false, 10)
	if got.err != io.ErrNoProgress {
		t.Errorf("endless empty reads: %s", got)
	}
}

func TestBeforeReadError(t *testing.T) {
	r := NewReader(strings.NewReader("PING\r\n"), Limits{})
	r.BeforeRead = func() error { return errTimeout }
	if _, err := r.ReadCommand(); err != errTimeout {
		t.Errorf("got %v", err)
	}
}

func TestParseInt(t *testing.T) {
	for _, tt := range []struct {
		in string
		n  int64
		ok bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"-1", -1, true},
		{"1234567890", 1234567890, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551615", 0, false},
		{"18446744073709551616", 0, false},
		{"99999999999999999999", 0, false},
		{"00000000000000000001", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"-0", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1a", 0, false},
		{"1.0", 0, false},
		{"--1", 0, false},
	} {
		n, ok := ParseInt([]byte(tt.in))
		if n != tt.n || ok != tt.ok {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.ok)
		}
	}
}

func toStrings(args [][]byte) []string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = string(a)
	}
	return s
}

// loopReader returns data again and again, in reads of at most chunk
// bytes: a connection carrying the same pipeline for ever.
type loopReader struct {
	data       []byte
	off, chunk int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := min(len(p), l.chunk, len(l.data)-l.off)
	copy(p, l.data[l.off:l.off+n])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// BenchmarkReadSET reads a pipeline of SET key:<n> <512 bytes> commands
// arriving in 16 KiB reads. One op is one command; it must not allocate.
func BenchmarkReadSET(b *testing.B) {
	const count = 1000
	value := strings.Repeat("v", 512)
	var batch strings.Builder
	for n := range count {
		batch.WriteString(cmd("SET", fmt.Sprint("key:", n), value))
	}
	r := NewReader(&loopReader{data: []byte(batch.String()), chunk: 16 << 10}, Limits{})
	b.SetBytes(int64(batch.Len() / count))
	b.ReportAllocs()
	for b.Loop() {
		args, err := r.ReadCommand()
		if err != nil || len(args) != 3 || len(args[2]) != 512 {
			b.Fatalf("%q, %v", args, err)
		}
	}
}

// Ahead reports the name and first argument of the complete commands in
// the array form buffered after the one returned, and changes nothing.
func TestAhead(t *testing.T) {
	in := "*2\r\n$3\r\nGET\r\n$1\r\na\r\n" +
		"*1\r\n$4\r\nPING\r\n" +
		"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2\r\nvv\r\n" +
		"*0\r\n" +
		"*2\r\n$6\r\nEXPIRE\r\n$1\r\nc\r\n" +
		"GET d\r\n" + // inline: Ahead stops
		"*2\r\n$3\r\nGET\r\n$1\r\ne\r\n"
	tests := []struct {
		in   string
		most int
		want []string
	}{
		{in, 10, []string{"GET a", "SET b", "EXPIRE c"}},
		{in, 2, []string{"GET a", "SET b"}},
		{"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb", 10, []string{"GET a"}}, // the second not complete
		{"*2\r\n$3\r\nGET\r\n$1099511627776\r\nx\r\n", 10, nil},
		{"*1099511627776\r\n$3\r\nGET\r\n$1\r\na\r\n", 10, nil},
		{"*2\r\n$3\r\nGET\r\n$-1\r\n", 10, nil},
		{"*2\r\n$3\r\nGET\r\n:1\r\n", 10, nil},
		{"*2\n$3\r\nGET\r\n$1\r\na\r\n", 10, nil},
	}
	for _, tt := range tests {
		var got []string
		r := NewReader(strings.NewReader(tt.in), Limits{})
		r.AfterRead = func() {
			r.Ahead(tt.most, func(name, arg []byte) { got = append(got, string(name)+" "+string(arg)) })
		}
		first, err := r.ReadCommand()
		if err != nil && tt.want != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: Ahead found %q, want %q", tt.in, got, tt.want)
		}
		if tt.want != nil && string(first[1]) != "a" {
			t.Errorf("%q: first command %q", tt.in, first)
		}
	}
}
