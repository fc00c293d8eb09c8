package memcache

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/inbuf"
)

// Fuzz flags, the third argument of FuzzReader. The top bits choose one of
// fuzzLimits.
const (
	fuzzTinyBuf    = 1 << iota // start with an 8-byte buffer, to make it grow
	fuzzShrink                 // Shrink after every command and before every read
	fuzzWholeTiny              // give the one-piece reader a tiny buffer too
	fuzzSkipKeys               // SkipKeys after every other batch with More
	fuzzLimitShift = iota
)

// fuzzLimits are small, so that random input reaches them: long get lines
// and their batches among them.
var fuzzLimits = [...]Limits{
	{MaxLine: 32, MaxKeysLine: 200, MaxValue: 16, MaxKeys: 3},
	{MaxLine: 8, MaxKeysLine: 40, MaxValue: 1, MaxKeys: 1},
	{MaxLine: 1, MaxValue: 1, MaxKeys: 1},
	{MaxLine: 300, MaxKeysLine: 600, MaxValue: 300, MaxKeys: 100},
	{MaxLine: 64, MaxValue: 0, MaxKeys: 2},
	{}, // the defaults
	{MaxLine: 20, MaxKeysLine: 1000, MaxValue: 4, MaxKeys: 8},
	{MaxLine: 6, MaxKeysLine: 64, MaxValue: 16, MaxKeys: 2},
}

// countingReader counts the reads from its reader.
type countingReader struct {
	rd    io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.rd.Read(p)
}

// fuzzRead reads commands from rd as flags say, checking what must hold of
// every command and error, until an error that ends the stream.
func fuzzRead(t *testing.T, rd io.Reader, flags uint8, tiny bool, maxCmds int) []string {
	lim := fuzzLimits[int(flags>>fuzzLimitShift)%len(fuzzLimits)]
	cr := &countingReader{rd: rd}
	r := NewReader(cr, lim)
	if tiny {
		r.buf = make([]byte, 8)
	}
	if flags&fuzzShrink != 0 {
		r.BeforeRead = func() error { r.Shrink(); return nil }
	}
	bufLimit := max(len(r.buf), r.bufLimit())
	// The keys Ahead finds after each read must be those of the commands
	// Read returns next, in order, as far as it returns them without a
	// refusal (whose line's keys Ahead may have reported).
	type aheadKey struct {
		key   string
		value bool
	}
	var ahead []aheadKey
	most := int(flags%7) + 1
	r.AfterRead = func() {
		ahead = ahead[:0]
		n := r.Ahead(most, func(key []byte, value bool) {
			ahead = append(ahead, aheadKey{string(key), value})
		})
		if n != len(ahead) || n > most {
			t.Fatalf("Ahead returned %d, reported %d, most %d", n, len(ahead), most)
		}
	}
	expect := func(key []byte, value bool) {
		if len(ahead) == 0 {
			return
		}
		if got := (aheadKey{string(key), value}); got != ahead[0] {
			t.Fatalf("Ahead found %+v, Read returned %+v", ahead[0], got)
		}
		ahead = ahead[1:]
	}
	var out []string
	var prev Command // the command read last, if it had More
	for range maxCmds {
		reads := cr.reads
		c, err := r.Read()
		if prev.More {
			// The next batch comes from the line already read.
			if err != nil || cr.reads != reads || c.Op != prev.Op || c.Exptime != prev.Exptime || len(c.Keys) == 0 {
				t.Fatalf("after a batch of %s with more: %s, %d reads", prev.Op, describe(c, err), cr.reads-reads)
			}
		}
		prev = Command{}
		if r.Buffered() < 0 || r.r > r.w || r.w > len(r.buf) || len(r.buf) > bufLimit {
			t.Fatalf("bad buffer state r=%d w=%d len=%d (limit %d)", r.r, r.w, len(r.buf), bufLimit)
		}
		out = append(out, describe(c, err))
		var ce *CommandError
		switch {
		case errors.As(err, &ce):
			ahead = nil
			if c != nil {
				t.Fatalf("a command with error %v", err)
			}
			if !strings.HasPrefix(ce.Reply, "ERROR") && !strings.HasPrefix(ce.Reply, "CLIENT_ERROR ") {
				t.Fatalf("reply %q", ce.Reply)
			}
			if ce.Fatal {
				if again, err2 := r.Read(); err2 != err || again != nil {
					t.Fatalf("after %v: %v, %v", err, again, err2)
				}
				return out
			}
			continue
		case err != nil:
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error %T: %v", err, err)
			}
			return out
		}
		checkCommand(t, c, r.lim)
		for _, k := range c.Keys {
			expect(k, true)
		}
		if c.Key != nil {
			expect(c.Key, false)
		}
		prev = *c
		if flags&fuzzSkipKeys != 0 && c.More && len(out)%2 == 0 {
			r.SkipKeys()
			prev.More = false
			ahead = nil
		}
		if flags&fuzzShrink != 0 {
			r.Shrink()
		}
	}
	t.Fatalf("more than %d commands from the input", maxCmds)
	return nil
}

// checkCommand checks what the reader promises of a command.
func checkCommand(t *testing.T, c *Command, lim Limits) {
	if c.Op == 0 || c.Op.String() == "unknown" {
		t.Fatalf("command with op %d", c.Op)
	}
	if len(c.Keys) > lim.MaxKeys || c.More && (len(c.Keys) != lim.MaxKeys || !c.Op.isRetrieval()) {
		t.Fatalf("%s: %d keys, more %v, limit %d", c.Op, len(c.Keys), c.More, lim.MaxKeys)
	}
	for _, k := range append(slices.Clip(c.Keys), c.Key) {
		if k != nil && !validKey(k) {
			t.Fatalf("invalid key %q returned", k)
		}
	}
	if len(c.Data) > lim.MaxValue {
		t.Fatalf("a block of %d bytes, limit %d", len(c.Data), lim.MaxValue)
	}
	if c.Op.IsStorage() != (c.Data != nil || c.TooLarge) || c.Op.IsStorage() && c.Key == nil {
		t.Fatalf("%s with data %q, key %q, too large %v", c.Op, c.Data, c.Key, c.TooLarge)
	}
}

// FuzzReader feeds random input in random pieces: the chunks argument gives
// the size of each read in turn (0 for all that is left). The reader must
// not panic or loop, must fail only with refusals or I/O errors, must hold
// its limits, and must make the same commands and errors of the input
// however it is split.
func FuzzReader(f *testing.F) {
	seeds := []string{
		"set a 0 0 1\r\nx\r\nget a\r\ngets a b\r\n",
		"cas a 1 2 3 4 noreply\r\nxyz\r\ngat 10 a\r\ngats 0 a b\r\n",
		"incr a 1\r\ndecr a 2 noreply\r\ntouch a 10\r\ndelete a 0 noreply\r\n",
		"flush_all 10 noreply\r\nversion\r\nverbosity 1\r\nstats items\r\nquit\r\n",
		"set a 0 0 20\r\n" + strings.Repeat("x", 20) + "\r\nget a\r\n",
		"set a 0 0 1099511627776\r\n", "set a 0 0 3\r\nabcd\r\n", "set a 0 0 3\r\nab\r\n",
		"set " + strings.Repeat("k", 251) + " 0 0 1\r\nx\r\n",
		"\x80\x01\x00\x00garbage\xff\r\n", strings.Repeat("A", 40), "get " + strings.Repeat("k ", 20) + "\r\n",
		"append a x 0 2\r\nxy\r\n", "set a 0 0 2\r\nx\n", "\n\r\n  \r\n",
		// Long retrieval lines, in batches, and not.
		"gets " + strings.Repeat("key ", 40) + "\r\nversion\r\n",
		"  gat 10 " + strings.Repeat("k", 30) + strings.Repeat(" a b", 25) + "\r\nget a\r\n",
		"get " + strings.Repeat("a ", 30) + "\x01\r\nget b\r\n",
		"get " + strings.Repeat("a ", 300) + "\r\n", "stats " + strings.Repeat("a ", 30) + "\r\n",
		"get" + strings.Repeat(" ", 100) + "\r\n", "get " + strings.Repeat("k", 300) + "\r\n",
	}
	for _, tt := range readerTests {
		if len(tt.in) < 1024 {
			seeds = append(seeds, tt.in)
		}
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{1}, uint8(i))
		f.Add([]byte(s), []byte{3, 0}, uint8(i<<fuzzLimitShift))
		f.Add([]byte(s), []byte{7, 2, 30, 1}, uint8(fuzzTinyBuf|fuzzShrink|i<<fuzzLimitShift))
	}
	f.Fuzz(func(t *testing.T, data, chunks []byte, flags uint8) {
		// Every command takes at least a byte (an empty line's LF),
		// and the end takes one more outcome.
		maxCmds := len(data) + 2
		whole := fuzzRead(t, bytes.NewReader(data), flags, flags&fuzzWholeTiny != 0, maxCmds)
		cr := inbuf.Cycle(data, chunks)
		chunked := fuzzRead(t, cr, flags, flags&fuzzTinyBuf != 0, maxCmds)
		// One read per byte at most, one that finds the end, and one
		// more after a fatal error.
		if cr.Reads > len(data)+2 {
			t.Fatalf("%d reads of %d bytes", cr.Reads, len(data))
		}
		if !slices.Equal(whole, chunked) {
			t.Fatalf("in one piece:\n%q\nin chunks %v:\n%q", whole, chunks, chunked)
		}
	})
}
