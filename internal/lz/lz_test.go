package lz

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// samples are inputs of the kinds a snapshot block holds, and the edges.
func samples() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 256<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	var sessions bytes.Buffer
	for i := 0; sessions.Len() < 256<<10; i++ {
		fmt.Fprintf(&sessions, "\x00\x00\x02\x1asess:%032x{\"cookie\":{\"originalMaxAge\":86400000,\"expires\":\"2026-12-%02dT10:%02d:%02d.000Z\",\"httpOnly\":true,\"path\":\"/\"},\"passport\":{\"user\":\"%d\"},\"csrf\":\"%016x\"}",
			r.Uint64(), i%28+1, i%60, i%59, r.IntN(100000), r.Uint64())
	}
	return map[string][]byte{
		"empty":    nil,
		"short":    []byte("abc"),
		"edge":     []byte("aaaaaaaaaaaa"),
		"zeros":    make([]byte, 100000),
		"random":   random,
		"sessions": sessions.Bytes(),
		"run":      bytes.Repeat([]byte("ab"), 40000),
		"text":     bytes.Repeat([]byte("the same sentence, again and again. "), 300),
	}
}

func TestRoundTrip(t *testing.T) {
	for name, src := range samples() {
		c, ok := Compress([]byte("prefix"), src)
		if !ok {
			if string(c) != "prefix" {
				t.Errorf("%s: refused, but dst changed", name)
			}
			if name != "empty" && name != "short" && name != "edge" && name != "random" {
				t.Errorf("%s: not compressed", name)
			}
			continue
		}
		if name == "random" {
			t.Errorf("random bytes compressed to %d of %d", len(c)-6, len(src))
		}
		out, err := Decompress([]byte("x"), c[6:], len(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(out[1:], src) || out[0] != 'x' {
			t.Fatalf("%s: round trip differs", name)
		}
		t.Logf("%s: %d -> %d bytes (%.1f%%)", name, len(src), len(c)-6, 100*float64(len(c)-6)/float64(len(src)))
	}
}

func TestSessionsShrink(t *testing.T) {
	src := samples()["sessions"]
	c, ok := Compress(nil, src)
	if !ok || len(c) > len(src)*3/4 {
		t.Fatalf("session records: %d -> %d bytes; want at most three quarters", len(src), len(c))
	}
}

func TestDecompressRejects(t *testing.T) {
	src := samples()["sessions"]
	c, _ := Compress(nil, src)
	cases := map[string]struct {
		in   []byte
		size int
	}{
		"empty":          {nil, 0},
		"size too big":   {c, len(src) + 1},
		"size too small": {c, len(src) - 1},
		"negative size":  {c, -1},
		"cut":            {c[:len(c)/2], len(src)},
		"offset zero":    {[]byte{0x10, 'a', 0, 0, 0x00}, 5},
		"offset too far": {[]byte{0x10, 'a', 2, 0, 0x00}, 5},
		"count runs off": {[]byte{0xf0, 255, 255}, 1000},
		"no offset":      {[]byte{0x10, 'a', 1}, 5},
	}
	for name, c := range cases {
		if out, err := Decompress([]byte("keep"), c.in, c.size); err != ErrCorrupt || string(out) != "keep" {
			t.Errorf("%s: %q, %v; want ErrCorrupt and dst unchanged", name, out, err)
		}
	}
}

func FuzzDecompress(f *testing.F) {
	for _, src := range samples() {
		c, _ := Compress(nil, src)
		f.Add(c, len(src))
	}
	f.Add([]byte{0x1f, 'a', 1, 0, 255, 255, 10}, 600)
	f.Fuzz(func(t *testing.T, in []byte, size int) {
		if size > 1<<20 {
			size %= 1 << 20
		}
		out, err := Decompress(nil, in, size)
		if err == nil && len(out) != size {
			t.Fatalf("decompressed %d bytes, declared %d", len(out), size)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	for _, src := range samples() {
		if len(src) > 4096 {
			src = src[:4096]
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, ok := Compress(nil, src)
		if !ok {
			if len(c) != 0 {
				t.Fatal("refused, but wrote")
			}
			return
		}
		if len(c) >= len(src) {
			t.Fatalf("compressed %d bytes to %d", len(src), len(c))
		}
		out, err := Decompress(nil, c, len(src))
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func BenchmarkCompress(b *testing.B) {
	for _, name := range []string{"sessions", "random"} {
		src := samples()[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			var dst []byte
			for b.Loop() {
				dst, _ = Compress(dst[:0], src)
			}
		})
	}
}

func BenchmarkDecompressSessions(b *testing.B) {
	src := samples()["sessions"]
	c, _ := Compress(nil, src)
	b.SetBytes(int64(len(src)))
	var dst []byte
	for b.Loop() {
		dst, _ = Decompress(dst[:0], c, len(src))
	}
}
