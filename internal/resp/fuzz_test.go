package resp

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/inbuf"
)

// Fuzz flags, the third argument of FuzzReader. Its top three bits choose
// one of fuzzLimits.
const (
	fuzzUnauth     = 1 << iota // Unauthenticated
	fuzzDefaultLim             // the default limits, not fuzzLimits
	fuzzTinyBuf                // start with an 8-byte buffer, to make it grow
	fuzzShrink                 // Shrink after every command and before every read
	fuzzWholeTiny              // give the one-piece reader a tiny buffer too
	fuzzLimitShift = iota
)

// fuzzLimits are small, so that random input reaches them, and some are
// odd: a MaxCommand shorter than a header, limits of 1.
var fuzzLimits = [8]Limits{
	{MaxArgs: 8, MaxBulk: 64, MaxInline: 32, MaxCommand: 200},
	{MaxArgs: 2, MaxBulk: 8, MaxInline: 8, MaxCommand: 24},
	{MaxArgs: 3, MaxBulk: 16, MaxInline: 4, MaxCommand: 3},
	{MaxArgs: 1, MaxBulk: 1, MaxInline: 1, MaxCommand: 1},
	{MaxArgs: 100, MaxBulk: 1000, MaxInline: 16, MaxCommand: 40},
	{MaxArgs: 20, MaxBulk: 20000, MaxInline: 64},
	{MaxArgs: 8, MaxBulk: 64, MaxInline: 32, MaxCommand: 200},
	{MaxArgs: 8, MaxBulk: 64, MaxInline: 32, MaxCommand: 200},
}

// fuzzRead reads commands from rd as the flags say, checking what must
// hold of every command, until an error.
func fuzzRead(t *testing.T, rd io.Reader, flags uint8, tiny bool, maxCmds int) result {
	lim := fuzzLimits[flags>>fuzzLimitShift]
	if flags&fuzzDefaultLim != 0 {
		lim = Limits{}
	}
	r := NewReader(rd, lim)
	r.Unauthenticated = flags&fuzzUnauth != 0
	if tiny {
		r.buf, r.initial = make([]byte, 8), 8
	}
	if flags&fuzzShrink != 0 {
		r.BeforeRead = func() error { r.Shrink(); return nil }
	}
	// What Ahead finds after each read must be what ReadCommand returns
	// next, as far as it returns commands.
	var ahead [][2]string
	r.AfterRead = func() {
		ahead = ahead[:0]
		n := r.Ahead(int(flags%5)+1, func(name, arg []byte) {
			ahead = append(ahead, [2]string{string(name), string(arg)})
		})
		if n != len(ahead) || n > int(flags%5)+1 {
			t.Fatalf("Ahead returned %d, reported %d, most %d", n, len(ahead), flags%5+1)
		}
	}
	var res result
	for range maxCmds {
		args, err := r.ReadCommand()
		if err == nil && len(args) >= 2 && len(ahead) > 0 {
			if got := [2]string{string(args[0]), string(args[1])}; got != ahead[0] {
				t.Fatalf("Ahead found %q, ReadCommand returned %q", ahead[0], got)
			}
			ahead = ahead[1:]
		}
		if r.Buffered() < 0 || r.r > r.w || r.w > len(r.buf) {
			t.Fatalf("bad buffer state r=%d w=%d len=%d", r.r, r.w, len(r.buf))
		}
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if args != nil {
				t.Fatalf("arguments with error %v", err)
			}
			if again, err2 := r.ReadCommand(); pe != nil && (err2 != err || again != nil) {
				t.Fatalf("after %v: %q, %v", err, again, err2)
			}
			res.err = err
			return res
		}
		if len(args) == 0 {
			t.Fatal("empty command returned")
		}
		if len(args) > r.lim.MaxArgs {
			t.Fatalf("%d arguments, limit %d", len(args), r.lim.MaxArgs)
		}
		for _, a := range args {
			if len(a) > max(r.lim.MaxBulk, r.lim.MaxInline) {
				t.Fatalf("an argument of %d bytes", len(a))
			}
		}
		res.cmds = append(res.cmds, toStrings(args))
		if flags&fuzzShrink != 0 {
			r.Shrink()
			// The arguments returned stay valid until the next call.
			if !slices.Equal(toStrings(args), res.cmds[len(res.cmds)-1]) {
				t.Fatalf("Shrink changed the arguments returned")
			}
		}
	}
	t.Fatalf("more than %d commands from the input", maxCmds)
	return res
}

// FuzzReader feeds random input in random pieces: the chunks argument
// gives the size of each read in turn (0 for all that is left). The reader
// must not panic or loop, must fail only with protocol or I/O errors, and
// must make the same commands and the same error of the input however it
// is split.
func FuzzReader(f *testing.F) {
	seeds := []string{
		cmd("SET", "key", "value") + cmd("GET", "key") + "PING\r\n",
		cmd("ECHO", "a\r\nb") + "*0\r\n*-1\r\n" + cmd("PING"),
		"SET k \"a\\x41\\n\" 'b\\'c'\r\nGET k\n\r\n",
		"FOO a\vb \"x\"\f'y'\r\n",
		"FOO \"abc\r\n",
		"*-0\r\n", "*1\n", "*1\r\nX\r\n", "*1\r\n$-1\r\n", "*1\r\n$3\nfoo\r\n",
		"*1\r\n$1099511627776\r\n", "*1\r\n$3\r\nfooXY", "*9\r\n", "*1\r\n$65\r\n",
		"*11\r\n", "*1\r\n$16385\r\n",
		strings.Repeat("A", 40), "*" + strings.Repeat("1", 40), "*1\r\n$" + strings.Repeat("1", 40),
		cmd("A", "B", "C", "D", "E", "F", "G", "H"),
		cmd("ECHO", strings.Repeat("x", 64)) + cmd("ECHO", strings.Repeat("y", 64)),
		"*1\r\n$3\r\nfo",
	}
	for _, tt := range readerTests {
		if len(tt.in) < 1024 {
			seeds = append(seeds, tt.in)
		}
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{1}, uint8(i))
		f.Add([]byte(s), []byte{3, 0}, uint8(i>>1))
		f.Add([]byte(s), []byte{7, 2, 30, 1}, uint8(fuzzTinyBuf|fuzzShrink|i<<fuzzLimitShift))
	}
	f.Fuzz(func(t *testing.T, data, chunks []byte, flags uint8) {
		// Every command takes at least two bytes.
		maxCmds := len(data)/2 + 2
		whole := fuzzRead(t, bytes.NewReader(data), flags, flags&fuzzWholeTiny != 0, maxCmds)
		cr := inbuf.Cycle(data, chunks)
		chunked := fuzzRead(t, cr, flags, flags&fuzzTinyBuf != 0, maxCmds)
		// One read per byte at most, one that finds the end, and one
		// more for the call fuzzRead makes after the error.
		if cr.Reads > len(data)+2 {
			t.Fatalf("%d reads of %d bytes", cr.Reads, len(data))
		}
		if !slices.EqualFunc(whole.cmds, chunked.cmds, slices.Equal) || !sameErr(whole.err, chunked.err) {
			t.Fatalf("in one piece: %s\nin chunks %v: %s", whole, chunks, chunked)
		}
	})
}

// sdssplitargs is sdssplitargs from Redis's sds.c, transliterated, with
// the end of the slice where C has the NUL that ends the string. splitArgs
// must agree with it.
func sdssplitargs(line []byte) ([]string, bool) {
	at := func(i int) int {
		if i < len(line) {
			return int(line[i])
		}
		return -1
	}
	isspace := func(c int) bool {
		return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
	}
	ishex := func(c int) bool { return c >= 0 && isHex(byte(c)) }
	args := []string{}
	p := 0
	for {
		for at(p) != -1 && isspace(at(p)) {
			p++
		}
		if at(p) == -1 {
			return args, true
		}
		inq, insq, done := false, false, false
		var current []byte
		for !done {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && ishex(at(p+2)) && ishex(at(p+3)):
					current = append(current, unhex(byte(at(p+2)))*16+unhex(byte(at(p+3))))
					p += 3
				case c == '\\' && at(p+1) != -1:
					p++
					e := byte(at(p))
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					current = append(current, e)
				case c == '"':
					if at(p+1) != -1 && !isspace(at(p+1)) {
						return nil, false
					}
					done = true
				case c == -1:
					return nil, false
				default:
					current = append(current, byte(c))
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					current = append(current, '\'')
				case c == '\'':
					if at(p+1) != -1 && !isspace(at(p+1)) {
						return nil, false
					}
					done = true
				case c == -1:
					return nil, false
				default:
					current = append(current, byte(c))
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', -1:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					current = append(current, byte(c))
				}
			}
			if at(p) != -1 {
				p++
			}
		}
		args = append(args, string(current))
	}
}

// FuzzSplitArgs checks the inline splitter against Redis's.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{
		`SET "a b" 'c d'`, `FOO a"b c" d`, `"\x41\x4g\q\n"`, `'a\'b' 'c\d'`, `"abc`, `""x`, `x""`,
		"a\vb \"x\"\f'y'", "a\f\"b\"", `"a\`, `'`, `"a"'b'`, "\t\r a",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		want, wantOK := sdssplitargs(line)
		args, err := splitArgs(line, nil)
		if (err == nil) != wantOK {
			t.Fatalf("%q: error %v, Redis ok=%v", line, err, wantOK)
		}
		if err != nil {
			if !sameErr(err, perr("unbalanced quotes in request")) {
				t.Fatalf("%q: %v", line, err)
			}
			return
		}
		if got := toStrings(args); !slices.Equal(got, want) {
			t.Fatalf("%q: got %q, Redis %q", line, got, want)
		}
	})
}

// FuzzParseInt checks ParseInt against strconv with string2ll's rules.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-1", "9223372036854775807", "-9223372036854775808", "01", "-0", "+1", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits := strings.TrimPrefix(s, "-")
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil && len(s) <= 20 && s[0] != '+' && s != "-0" &&
			(digits == "0" && s == "0" || digits[0] != '0')
		if !wantOK {
			want = 0
		}
		n, ok := ParseInt([]byte(s))
		if n != want || ok != wantOK {
			t.Fatalf("ParseInt(%q) = %d, %v; want %d, %v", s, n, ok, want, wantOK)
		}
	})
}
