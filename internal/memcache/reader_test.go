package memcache

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/inbuf"
)

// describe renders what one Read returned, compactly, for comparisons:
// a command as "op key=... field=...", a refusal as "!reply", a fatal one
// as "!!reply", each with " noreply" when the command asked for none.
func describe(c *Command, err error) string {
	var ce *CommandError
	switch {
	case errors.As(err, &ce):
		s := "!" + ce.Reply
		if ce.Fatal {
			s = "!" + s
		}
		if ce.NoReply {
			s += " noreply"
		}
		return s
	case err != nil:
		return "err " + err.Error()
	}
	var b strings.Builder
	b.WriteString(c.Op.String())
	if c.Key != nil {
		fmt.Fprintf(&b, " key=%q", c.Key)
	}
	for _, k := range c.Keys {
		fmt.Fprintf(&b, " %q", k)
	}
	if c.Flags != 0 {
		fmt.Fprintf(&b, " flags=%d", c.Flags)
	}
	if c.Exptime != 0 {
		fmt.Fprintf(&b, " exp=%d", c.Exptime)
	}
	if c.Cas != 0 {
		fmt.Fprintf(&b, " cas=%d", c.Cas)
	}
	if c.Delta != 0 {
		fmt.Fprintf(&b, " delta=%d", c.Delta)
	}
	if c.Data != nil {
		fmt.Fprintf(&b, " data=%q", c.Data)
	}
	if c.TooLarge {
		b.WriteString(" toolarge")
	}
	for _, a := range c.Args {
		fmt.Fprintf(&b, " arg=%q", a)
	}
	if c.NoReply {
		b.WriteString(" noreply")
	}
	if c.More {
		b.WriteString(" more")
	}
	return b.String()
}

// readAll reads commands until an error that ends the stream (a fatal
// refusal or one from the connection) and describes each.
func readAll(r *Reader) []string {
	var out []string
	for range 1000 {
		c, err := r.Read()
		out = append(out, describe(c, err))
		var ce *CommandError
		if err != nil && !(errors.As(err, &ce) && !ce.Fatal) {
			return out
		}
	}
	panic("more than 1000 commands")
}

var testLimits = Limits{MaxLine: 300, MaxKeysLine: 600, MaxValue: 16, MaxKeys: 4}

var readerTests = []struct {
	name string
	in   string
	want []string
}{
	{"get", "get a\r\nget a b c\r\ngets a\r\n", []string{`get "a"`, `get "a" "b" "c"`, `gets "a"`, "err EOF"}},
	{"lf alone ends a line", "get a\nget b\r\n", []string{`get "a"`, `get "b"`, "err EOF"}},
	{"spaces", "  get   a  b \r\n", []string{`get "a" "b"`, "err EOF"}},
	{"cr inside a key", "get a\r\r\n", []string{"!" + replyBadFormat, "err EOF"}},
	{"gat", "gat 100 a b\r\ngats -1 a\r\ngat 100\r\n", []string{`gat "a" "b" exp=100`, `gats "a" exp=-1`, "gat exp=100", "err EOF"}},
	{"gat bad exptime", "gat x a\r\n", []string{"!" + replyBadExptime, "err EOF"}},
	{"get without key", "get\r\ngets \r\ngat\r\n", []string{"!ERROR", "!ERROR", "!ERROR", "err EOF"}},
	{"keys in batches", "get a b c d e\r\ngats 1 a b c d  e f g h \r\nget a b c d\r\n",
		[]string{`get "a" "b" "c" "d" more`, `get "e"`, `gats "a" "b" "c" "d" exp=1 more`, `gats "e" "f" "g" "h" exp=1`, `get "a" "b" "c" "d"`, "err EOF"}},
	{"bad key after the first batch", "get a b c d e\x01\r\nget a b c d " + strings.Repeat("k", 251) + "\r\nget a\r\n",
		[]string{"!" + replyBadFormat, "!" + replyBadFormat, `get "a"`, "err EOF"}},
	{"long key", "get " + strings.Repeat("k", 251) + " a\r\nget " + strings.Repeat("k", 250) + "\r\n",
		[]string{"!" + replyBadFormat, `get "` + strings.Repeat("k", 250) + `"`, "err EOF"}},
	{"control character in key", "get a\x01b\r\nget a\x7f\r\nget \xc3\xa9\r\n",
		[]string{"!" + replyBadFormat, "!" + replyBadFormat, `get "é"`, "err EOF"}},
	{"unknown", "GET a\r\nfoo\r\n\r\n", []string{"!ERROR", "!ERROR", "!ERROR", "err EOF"}},
	{"set", "set a 5 100 3\r\nabc\r\n", []string{`set key="a" flags=5 exp=100 data="abc"`, "err EOF"}},
	{"empty value", "set a 0 0 0\r\n\r\n", []string{`set key="a" data=""`, "err EOF"}},
	{"storage commands", "add a 0 0 1\r\nx\r\nreplace a 0 0 1\r\nx\r\nappend a 0 0 1\r\nx\r\nprepend a 0 0 1 noreply\r\nx\r\n",
		[]string{`add key="a" data="x"`, `replace key="a" data="x"`, `append key="a" data="x"`, `prepend key="a" data="x" noreply`, "err EOF"}},
	{"cas", "cas a 1 2 1 99\r\nx\r\ncas a 0 0 1 99 noreply\r\ny\r\n",
		[]string{`cas key="a" flags=1 exp=2 cas=99 data="x"`, `cas key="a" cas=99 data="y" noreply`, "err EOF"}},
	{"numbers as memcached reads them", "set a +7 -1 01\r\nx\r\nset a 4294967295 0 1\t\r\nx\r\n",
		[]string{`set key="a" flags=7 exp=-1 data="x"`, `set key="a" flags=4294967295 data="x"`, "err EOF"}},
	{"noreply only as the last token", "set a 0 0 1 NOREPLY\r\nx\r\n", []string{`set key="a" data="x"`, "err EOF"}},
	{"set arity", "set a 0 0\r\nset a 0 0 1 noreply x\r\ncas a 0 0 1\r\n",
		[]string{"!ERROR", "!ERROR", "!ERROR", "err EOF"}},
	{"bad flags: block skipped", "set a x 0 1\r\nz\r\nset a 4294967296 0 1\r\nz\r\nget a\r\n",
		[]string{"!" + replyBadFormat, "!" + replyBadFormat, `get "a"`, "err EOF"}},
	{"bad exptime, bad cas", "set a 0 5.5 1\r\nz\r\ncas a 0 0 1 -1 noreply\r\nz\r\n",
		[]string{"!" + replyBadFormat, "!" + replyBadFormat + " noreply", "err EOF"}},
	{"long key: block skipped", "set " + strings.Repeat("k", 251) + " 0 0 1\r\nx\r\nversion\r\n",
		[]string{"!" + replyBadFormat, "version", "err EOF"}},
	{"bad byte count: block read as commands", "set a 0 0 x\r\nversion\r\nset a 0 0 -1\r\n",
		[]string{"!" + replyBadFormat, "version", "!" + replyBadFormat, "err EOF"}},
	{"block too large: skipped", "set a 0 0 17\r\n" + strings.Repeat("x", 17) + "\r\nget a\r\n",
		[]string{`set key="a" toolarge`, `get "a"`, "err EOF"}},
	{"block too large, noreply", "add a 0 0 20 noreply\r\n" + strings.Repeat("x", 20) + "\r\n",
		[]string{`add key="a" toolarge noreply`, "err EOF"}},
	{"skipped block not ending in CRLF", "set a 0 0 17\r\n" + strings.Repeat("x", 18) + "\r\n",
		[]string{"!!" + replyBadChunk}},
	{"byte count past memcached's", "set a 0 0 1099511627776\r\n", []string{"!!" + replyBadFormat}},
	{"byte count past int64", "set a 0 0 99999999999999999999\r\n", []string{"!" + replyBadFormat, "err EOF"}},
	{"block longer than announced", "set a 0 0 3\r\nabcd\r\nget a\r\n", []string{"!!" + replyBadChunk}},
	{"block shorter than announced", "set a 0 0 3\r\nab\r\nget a\r\n", []string{"!!" + replyBadChunk}},
	{"block without CR", "set a 0 0 1 noreply\r\nx\nz", []string{"!!" + replyBadChunk + " noreply"}},
	{"block cut short", "set a 0 0 3\r\nab", []string{"err unexpected EOF"}},
	{"line cut short", "get a", []string{"err unexpected EOF"}},
	{"incr", "incr a 5\r\ndecr a 18446744073709551615 noreply\r\nincr a 1 2\r\n",
		[]string{`incr key="a" delta=5`, `decr key="a" delta=18446744073709551615 noreply`, `incr key="a" delta=1`, "err EOF"}},
	{"incr bad", "incr a -1\r\nincr a 18446744073709551616\r\nincr a\r\nincr a 1 noreply x\r\nincr a abc noreply\r\n",
		[]string{"!" + replyBadDelta, "!" + replyBadDelta, "!ERROR", "!ERROR", "!" + replyBadDelta + " noreply", "err EOF"}},
	{"touch", "touch a 10\r\ntouch a -1 noreply\r\ntouch a x\r\ntouch a\r\n",
		[]string{`touch key="a" exp=10`, `touch key="a" exp=-1 noreply`, "!" + replyBadExptime, "!ERROR", "err EOF"}},
	{"delete", "delete a\r\ndelete a 0\r\ndelete a noreply\r\ndelete a 0 noreply\r\n",
		[]string{`delete key="a"`, `delete key="a"`, `delete key="a" noreply`, `delete key="a" noreply`, "err EOF"}},
	{"delete bad", "delete a 5\r\ndelete a x noreply\r\ndelete\r\ndelete a b c d\r\ndelete " + strings.Repeat("k", 251) + "\r\n",
		[]string{"!" + replyDeleteUsage, "!" + replyDeleteUsage + " noreply", "!ERROR", "!ERROR", "!" + replyBadFormat, "err EOF"}},
	{"flush_all", "flush_all\r\nflush_all 10\r\nflush_all noreply\r\nflush_all 10 noreply\r\nflush_all -1\r\nflush_all 0 0\r\n",
		[]string{"flush_all", "flush_all exp=10", "flush_all noreply", "flush_all exp=10 noreply", "flush_all exp=-1", "flush_all", "err EOF"}},
	{"flush_all bad", "flush_all x\r\nflush_all 1 noreply x\r\n", []string{"!" + replyBadExptime, "!ERROR", "err EOF"}},
	{"verbosity", "verbosity 1\r\nverbosity 1 noreply\r\nverbosity 1 2\r\nverbosity x\r\nverbosity\r\n",
		[]string{"verbosity", "verbosity noreply", "verbosity", "!" + replyBadFormat, "!ERROR", "err EOF"}},
	{"version, stats, quit", "version\r\nversion x\r\nstats\r\nstats items x\r\nquit\r\n",
		[]string{"version", "version", "stats", `stats arg="items" arg="x"`, "quit", "err EOF"}},
	{"line too long", strings.Repeat("x", 302), []string{"!!" + replyLineTooLong}},
	{"line too long with its end", strings.Repeat("x", 301) + "\r\n", []string{"!!" + replyLineTooLong}},
	{"longest line", "stats " + strings.Repeat("k ", 2) + strings.Repeat(" ", 290) + "\r\n", []string{`stats arg="k" arg="k"`, "err EOF"}},
	{"longest line without CR", "stats " + strings.Repeat(" ", 294) + "\n", []string{"stats", "err EOF"}},
	{"line too long without CR", "stats " + strings.Repeat(" ", 295) + "\n", []string{"!!" + replyLineTooLong}},
	{"long get line", "get " + strings.Repeat(strings.Repeat("k", 70)+" ", 6) + "\r\nget a\r\n",
		[]string{`get` + strings.Repeat(` "`+strings.Repeat("k", 70)+`"`, 4) + " more", `get` + strings.Repeat(` "`+strings.Repeat("k", 70)+`"`, 2), `get "a"`, "err EOF"}},
	{"longest get line", "gat 1 k" + strings.Repeat(" ", 593) + "\r\n", []string{`gat "k" exp=1`, "err EOF"}},
	{"longest get line without CR", "gets k" + strings.Repeat(" ", 594) + "\n", []string{`gets "k"`, "err EOF"}},
	{"get line too long", "gets k" + strings.Repeat(" ", 595) + "\n", []string{"!!" + replyLineTooLong}},
	{"get line too long without its end", "get k" + strings.Repeat(" ", 597), []string{"!!" + replyLineTooLong}},
	{"long get line, name in the first MaxLine+1 bytes", strings.Repeat(" ", 297) + "get k" + strings.Repeat(" ", 10) + "\r\n",
		[]string{`get "k"`, "err EOF"}},
	{"long get line, name past the first MaxLine+1 bytes", strings.Repeat(" ", 298) + "get k" + strings.Repeat(" ", 10) + "\r\n",
		[]string{"!!" + replyLineTooLong}},
	{"long get line with a bad key", "get " + strings.Repeat("k ", 200) + "\x7f\r\nget a\r\n",
		[]string{"!" + replyBadFormat, `get "a"`, "err EOF"}},
}

func TestReader(t *testing.T) {
	for _, tt := range readerTests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(NewReader(strings.NewReader(tt.in), testLimits))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("%q:\ngot  %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// A fatal error is returned again by every later Read.
func TestReaderFatalSticks(t *testing.T) {
	r := NewReader(strings.NewReader("set a 0 0 1\r\nxy\r\nget a\r\n"), testLimits)
	_, err1 := r.Read()
	_, err2 := r.Read()
	if err1 == nil || err1 != err2 {
		t.Errorf("errors %v, then %v: want the same fatal error twice", err1, err2)
	}
}

// Pipelined commands come from one read, and Buffered says when the batch
// is done; BeforeRead runs only when the reader must wait.
func TestReaderPipelineAndBuffered(t *testing.T) {
	in := "set a 0 0 1\r\nx\r\nget a\r\ndelete a\r\n"
	cr := &chunkReader{Data: []byte(in), Next: func() int { return 0 }}
	r := NewReader(cr, Limits{})
	waits := 0
	r.BeforeRead = func() error { waits++; return nil }
	var buffered []int
	for range 3 {
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
		buffered = append(buffered, r.Buffered())
	}
	if fmt.Sprint(buffered) != "[17 10 0]" || waits != 1 || cr.Reads != 1 {
		t.Errorf("Buffered after each: %v, BeforeRead ran %d times, %d reads; want [17 10 0], 1, 1", buffered, waits, cr.Reads)
	}
}

// A block larger than MaxValue is skipped as it arrives: the buffer never
// grows to hold it.
func TestReaderSkipsWithoutHolding(t *testing.T) {
	block := strings.Repeat("x", 10<<20)
	in := "set a 0 0 " + fmt.Sprint(len(block)) + "\r\n" + block + "\r\nget a\r\n"
	r := NewReader(strings.NewReader(in), Limits{MaxValue: 1 << 10})
	got := readAll(r)
	want := []string{`set key="a" toolarge`, `get "a"`, "err EOF"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(r.buf) > initialBuf {
		t.Errorf("buffer grew to %d bytes", len(r.buf))
	}
}

// After an error from the connection, a deadline say, Read goes on with
// the command in progress.
func TestReaderResumesAfterReadError(t *testing.T) {
	errTimeout := errors.New("timeout")
	parts := []string{"set a 0 ", "0 3\r\nab", "c\r\n"}
	i := 0
	r := NewReader(readerFunc(func(p []byte) (int, error) {
		if i >= 2*len(parts) {
			return 0, io.EOF
		}
		i++
		if i%2 == 0 {
			return 0, errTimeout
		}
		return copy(p, parts[i/2]), nil
	}), Limits{})
	var got []string
	for {
		c, err := r.Read()
		if errors.Is(err, errTimeout) {
			continue
		}
		got = append(got, describe(c, err))
		if err != nil {
			break
		}
	}
	want := []string{`set key="a" data="abc"`, "err EOF"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Shrink gives back a buffer that a large value grew, once it is read.
func TestReaderShrink(t *testing.T) {
	in := "set a 0 0 100000\r\n" + strings.Repeat("x", 100000) + "\r\nget a\r\n"
	r := NewReader(strings.NewReader(in), Limits{})
	c, err := r.Read()
	if err != nil || len(c.Data) != 100000 {
		t.Fatalf("Read: %v", err)
	}
	data := c.Data
	r.Shrink()
	if len(r.buf) != initialBuf {
		t.Errorf("buffer of %d bytes after Shrink, want %d", len(r.buf), initialBuf)
	}
	if string(data[:3]) != "xxx" {
		t.Error("the value read last changed")
	}
	// Nothing the reader holds points into the old buffer any more,
	// which would keep it alive on an idle connection.
	if r.cmd.Data != nil || r.cmd.Key != nil || len(r.keys) != 0 {
		t.Error("after Shrink, the reader still holds slices of the old buffer")
	}
	if c, err := r.Read(); err != nil || describe(c, err) != `get "a"` {
		t.Errorf("then %s", describe(c, err))
	}
}

func TestParseNumbers(t *testing.T) {
	uints := map[string]any{
		"0": uint64(0), "18446744073709551615": uint64(1<<64 - 1), "+5": uint64(5), "007": uint64(7),
		"5 x": uint64(5), "\t5": uint64(5), "-0": uint64(0), "-18446744073709551615": uint64(1),
		"18446744073709551616": false, "-1": false, "": false, "x": false, "5x": false, "+": false, "0x10": false,
	}
	for in, want := range uints {
		v, ok := parseUint([]byte(in))
		if got := any(v); !ok {
			got = false
		} else if got != want {
			t.Errorf("parseUint(%q) = %v, want %v", in, got, want)
		}
		if !ok && want != false {
			t.Errorf("parseUint(%q) failed, want %v", in, want)
		}
	}
	ints := map[string]any{
		"-1": int64(-1), "9223372036854775807": int64(1<<63 - 1), "-9223372036854775808": int64(-1 << 63),
		"9223372036854775808": false, "-9223372036854775809": false, "1.5": false,
	}
	for in, want := range ints {
		v, ok := parseInt([]byte(in))
		if (ok && want != any(v)) || (!ok && want != false) {
			t.Errorf("parseInt(%q) = %d, %v; want %v", in, v, ok, want)
		}
	}
	if _, ok := ParseValue(nil); ok {
		t.Error("ParseValue of an empty value succeeded")
	}
}

// chunkReader is the readers' shared test input.
type chunkReader = inbuf.ChunkReader

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Reading a pipeline of the commands sessions use allocates nothing once
// the reader has its buffers.
func TestReaderDoesNotAllocate(t *testing.T) {
	batch := []byte("set sess:1 2 86400 17\r\n{\"user\":42,\"a\":1}\r\nget sess:1\r\ngets sess:1 sess:2\r\ntouch sess:1 60\r\ndelete sess:1 noreply\r\n")
	src := &loopReader{data: batch}
	r := NewReader(src, Limits{})
	read := func() {
		for range 5 {
			if _, err := r.Read(); err != nil {
				t.Fatal(err)
			}
		}
	}
	read()
	if n := testing.AllocsPerRun(100, read); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
}

// loopReader returns data again and again.
type loopReader struct {
	data []byte
	pos  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.pos:])
	l.pos = (l.pos + n) % len(l.data)
	return n, nil
}

func BenchmarkReader(b *testing.B) {
	batch := []byte("set sess:0123456789abcdef0123456789abcd 2 86400 512\r\n" + strings.Repeat("v", 512) + "\r\n" +
		"get sess:0123456789abcdef0123456789abcd\r\n")
	r := NewReader(&loopReader{data: batch}, Limits{})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		for range 2 {
			if _, err := r.Read(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// A get of one key, the commonest command, pipelined so that the parse
// and not the read is measured.
func BenchmarkReaderGet(b *testing.B) {
	line := "get sess:0123456789abcdef0123456789abcd\r\n"
	r := NewReader(&loopReader{data: []byte(strings.Repeat(line, 100))}, Limits{})
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

// Ahead reports the keys of the complete commands buffered after the one
// returned, and changes nothing.
func TestAhead(t *testing.T) {
	in := "get a\r\n" +
		"gets b  c\r\n" +
		"version\r\n" +
		"set d 0 0 2\r\nxy\r\n" +
		"gat 10 e\r\n" +
		"touch f 10\r\ndelete g\r\nincr h 1\r\ndecr i 1 noreply\r\n" +
		"set j 0 0 5\r\nab" // the block not complete: Ahead stops
	tests := []struct {
		in   string
		most int
		want []string
	}{
		{in, 20, []string{"a+", "b+", "c+", "d", "e+", "f", "g", "h", "i"}},
		{in, 3, []string{"a+", "b+", "c+"}},
		{"get a\r\nset b 0 0 x\r\nget c\r\n", 20, []string{"a+"}},
		{"get a\r\nset b 0 0 1099511627776\r\nx\r\nget c\r\n", 20, []string{"a+"}},
		{"get a\r\nget b", 20, []string{"a+"}},
	}
	for _, tt := range tests {
		var got []string
		r := NewReader(strings.NewReader(tt.in), Limits{})
		r.AfterRead = func() {
			r.Ahead(tt.most, func(key []byte, value bool) {
				if value {
					got = append(got, string(key)+"+")
				} else {
					got = append(got, string(key))
				}
			})
		}
		c, err := r.Read()
		if err != nil || string(c.Keys[0]) != "a" {
			t.Fatalf("%q: %v %v", tt.in, c, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: Ahead found %q, want %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkLongLineAhead reads a get line of 2 MiB that comes 64 bytes at
// a time, with and without Ahead after each read: Ahead starts where Read's
// search stopped, so the line is searched once, not once a read.
func BenchmarkLongLineAhead(b *testing.B) {
	line := []byte("get " + strings.Repeat("k ", (2<<20-16)/2) + "\r\n")
	for _, ahead := range []bool{false, true} {
		b.Run(fmt.Sprintf("ahead=%v", ahead), func(b *testing.B) {
			for range b.N {
				r := NewReader(inbuf.Cycle(line, []byte{64}), Limits{})
				if ahead {
					r.AfterRead = func() { r.Ahead(32, func([]byte, bool) {}) }
				}
				if _, err := r.Read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
