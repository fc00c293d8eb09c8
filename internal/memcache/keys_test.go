package memcache

import (
	"fmt"
	"strings"
	"testing"
)

// getLine returns "get k0 k1 ...\r\n" with n keys of 40 bytes, the key at
// position bad (if in range) replaced by badKey.
func getLine(n, bad int, badKey string) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%036d", i)
	}
	if bad >= 0 && bad < n {
		keys[bad] = badKey
	}
	return "get " + strings.Join(keys, " ") + "\r\n"
}

// A get of more keys than MaxKeys comes in batches of MaxKeys, all but the
// last with More, from the line read once; the next command follows.
func TestReaderKeyBatches(t *testing.T) {
	in := getLine(3000, -1, "") + "version\r\n"
	if len(in) <= 64<<10 {
		t.Fatalf("a line of %d bytes: want one longer than MaxLine", len(in))
	}
	cr := &chunkReader{Data: []byte(in), Next: func() int { return 1000 }}
	r := NewReader(cr, Limits{})
	next := 0
	for i, want := range []struct {
		n    int
		more bool
	}{{1024, true}, {1024, true}, {952, false}} {
		reads := cr.Reads
		c, err := r.Read()
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if c.Op != Get || len(c.Keys) != want.n || c.More != want.more {
			t.Fatalf("batch %d: %s with %d keys, more %v; want get with %d, more %v", i, c.Op, len(c.Keys), c.More, want.n, want.more)
		}
		if i > 0 && cr.Reads != reads {
			t.Errorf("batch %d: %d reads, want none", i, cr.Reads-reads)
		}
		for _, k := range c.Keys {
			if w := fmt.Sprintf("key:%036d", next); string(k) != w {
				t.Fatalf("batch %d: key %q, want %q", i, k, w)
			}
			next++
		}
	}
	if c, err := r.Read(); describe(c, err) != "version" {
		t.Errorf("after the batches: %s, want version", describe(c, err))
	}
	// An idle connection goes back to a small buffer and few key slots.
	r.Shrink()
	if len(r.buf) != initialBuf || cap(r.toks) > maxKeptKeys || cap(r.keys) > maxKeptKeys {
		t.Errorf("after Shrink: buffer of %d bytes, %d token and %d key slots", len(r.buf), cap(r.toks), cap(r.keys))
	}
}

// A bad key anywhere in the line, in a later batch too, refuses the whole
// line before any batch is returned; the connection goes on.
func TestReaderBadKeyRefusesLine(t *testing.T) {
	for _, bad := range []string{"bad\x01key", strings.Repeat("k", MaxKeyLen+1), "a\rb"} {
		in := getLine(3000, 2500, bad) + "version\r\n"
		r := NewReader(strings.NewReader(in), Limits{})
		got := readAll(r)
		want := []string{"!" + replyBadFormat, "version", "err EOF"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("key %q at 2500: got %q, want %q", bad, got, want)
		}
	}
}

// A line other than a retrieval's is refused past MaxLine, with its end
// or as soon as MaxLine+2 bytes of it are there without one; a get line
// past MaxKeysLine likewise.
func TestReaderLineBounds(t *testing.T) {
	stats := "stats " + strings.Repeat("a ", 64<<10)
	get := getLine(2<<20/41+1, -1, "")
	if len(get) <= 2<<20+2 {
		t.Fatalf("a get line of %d bytes: want one longer than MaxKeysLine", len(get))
	}
	for _, tt := range []struct {
		name, in string
	}{
		{"stats line over MaxLine", stats + "\r\n"},
		{"stats line over MaxLine, its end not arrived", stats[:64<<10+2]},
		{"get line over MaxKeysLine", get},
		{"get line over MaxKeysLine, its end not arrived", get[:2<<20+2]},
	} {
		r := NewReader(strings.NewReader(tt.in), Limits{})
		got := readAll(r)
		if want := "!!" + replyLineTooLong; len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want %q", tt.name, got, want)
		}
		if len(r.buf) > r.bufLimit() {
			t.Errorf("%s: buffer of %d bytes, limit %d", tt.name, len(r.buf), r.bufLimit())
		}
	}
	// Just under the bound, as the line arrives in pieces.
	line := get[:2<<20-2]
	line = line[:strings.LastIndexByte(line, ' ')] + "\r\n"
	n := 0
	cr := &chunkReader{Data: []byte(line + "version\r\n"), Next: func() int { n++; return 1 + n%3000 }}
	r := NewReader(cr, Limits{})
	keys := 0
	for {
		c, err := r.Read()
		if err != nil || c.Op != Get {
			if describe(c, err) != "version" {
				t.Fatalf("a get line of %d bytes: %s after %d keys", len(line), describe(c, err), keys)
			}
			break
		}
		keys += len(c.Keys)
	}
	if want := strings.Count(line, " "); keys != want {
		t.Errorf("a get line of %d bytes: %d keys, want %d", len(line), keys, want)
	}
}

// SkipKeys drops the batches still to come: the next Read returns the
// next command. Without batches to come it does nothing.
func TestReaderSkipKeys(t *testing.T) {
	r := NewReader(strings.NewReader(getLine(3000, -1, "")+"get a\r\nversion\r\n"), Limits{})
	c, err := r.Read()
	if err != nil || !c.More {
		t.Fatalf("first batch: %s, more %v", describe(c, err), c != nil && c.More)
	}
	r.SkipKeys()
	if c, err := r.Read(); describe(c, err) != `get "a"` {
		t.Fatalf("after SkipKeys: %s, want get \"a\"", describe(c, err))
	}
	r.SkipKeys()
	if c, err := r.Read(); describe(c, err) != "version" {
		t.Errorf("after SkipKeys with no batch to come: %s, want version", describe(c, err))
	}
}
