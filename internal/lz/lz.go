// Package lz compresses snapshot blocks: a byte-oriented LZ77 in the shape
// of LZ4's block format, chosen for speed over ratio. A block of session
// records repeats itself across records (the same key prefix, the same JSON
// field names, the same cookie settings), which a per-value compressor such
// as Redis's LZF cannot see.
//
// A compressed block is a run of sequences, each:
//
//	1      token: literal count (high 4 bits), match length - 4 (low 4 bits)
//	0..n   more literal count, in bytes of 255 ended by one below 255, if the high bits are 15
//	lits   the literals
//	2      match offset, little-endian, 1..65535 back from the end of the output so far
//	0..n   more match length, as for literals, if the low bits are 15
//
// The last sequence has literals only and ends the input. Decompress checks
// every count and offset against the input and the declared size: any
// input yields an error or at most size bytes, never a panic.
package lz

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

const (
	minMatch  = 4
	maxOffset = 1<<16 - 1
	hashLog   = 14
	// The last bytes are always literals, so that the match finder can
	// read 8 bytes at any position it tries.
	tailLiterals = 8
)

// ErrCorrupt is returned by Decompress for input that is not a block of
// the size declared.
var ErrCorrupt = errors.New("lz: corrupt block")

// Compress appends the compressed form of src to dst and returns it, or
// returns dst unchanged and false when that would not be smaller than src.
func Compress(dst, src []byte) ([]byte, bool) {
	start := len(dst)
	if len(src) < tailLiterals+minMatch {
		return dst, false
	}
	var table [1 << hashLog]int32 // position + 1 of the last 4 bytes with each hash
	anchor := 0                   // the first literal not yet emitted
	limit := len(src) - tailLiterals
	for i := 0; i < limit; {
		seq := binary.LittleEndian.Uint32(src[i:])
		h := hash(seq)
		cand := int(table[h]) - 1
		table[h] = int32(i + 1)
		if cand < 0 || i-cand > maxOffset || binary.LittleEndian.Uint32(src[cand:]) != seq {
			// Step faster through input that does not match: a block of
			// random bytes costs little.
			i += 1 + (i-anchor)>>6
			continue
		}
		// Extend the match backwards over pending literals, then forwards.
		for i > anchor && cand > 0 && src[i-1] == src[cand-1] {
			i--
			cand--
		}
		n := minMatch
		if i+n < limit {
			n += matchLen(src[cand+n:], src[i+n:limit])
		}
		dst = appendSequence(dst, src[anchor:i], i-cand, n)
		i += n
		anchor = i
		if len(dst)-start >= len(src) {
			return dst[:start], false
		}
	}
	dst = appendSequence(dst, src[anchor:], 0, 0)
	if len(dst)-start >= len(src) {
		return dst[:start], false
	}
	return dst, true
}

// matchLen returns how many bytes a and b share from their start; b is
// the shorter.
func matchLen(a, b []byte) int {
	n := 0
	for len(b)-n >= 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
		n += 8
	}
	for n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func hash(u uint32) uint32 { return (u * 2654435761) >> (32 - hashLog) }

// appendSequence appends literals and, if n > 0, a match of n bytes at
// offset back.
func appendSequence(dst, lits []byte, offset, n int) []byte {
	tok := len(dst)
	dst = append(dst, 0)
	l := len(lits)
	if l >= 15 {
		dst[tok] = 15 << 4
		dst = appendCount(dst, l-15)
	} else {
		dst[tok] = byte(l << 4)
	}
	dst = append(dst, lits...)
	if n == 0 {
		return dst
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(offset))
	if m := n - minMatch; m >= 15 {
		dst[tok] |= 15
		dst = appendCount(dst, m-15)
	} else {
		dst[tok] |= byte(m)
	}
	return dst
}

func appendCount(dst []byte, n int) []byte {
	for ; n >= 255; n -= 255 {
		dst = append(dst, 255)
	}
	return append(dst, byte(n))
}

// Decompress appends to dst the size bytes that src, a block from
// Compress, decompresses to. It returns ErrCorrupt if src is not that.
func Decompress(dst, src []byte, size int) ([]byte, error) {
	if size < 0 {
		return dst, ErrCorrupt
	}
	base := len(dst)
	dst = growTo(dst, size)
	out := dst[base : base : base+size]
	for i := 0; ; {
		if i >= len(src) {
			return dst[:base], ErrCorrupt
		}
		tok := src[i]
		i++
		l := int(tok >> 4)
		if l == 15 {
			var ok bool
			if l, i, ok = readCount(src, i, l); !ok {
				return dst[:base], ErrCorrupt
			}
		}
		if l > len(src)-i || l > cap(out)-len(out) {
			return dst[:base], ErrCorrupt
		}
		out = append(out, src[i:i+l]...)
		i += l
		if i == len(src) {
			if len(out) != size {
				return dst[:base], ErrCorrupt
			}
			return dst[:base+size], nil
		}
		if len(src)-i < 2 {
			return dst[:base], ErrCorrupt
		}
		off := int(binary.LittleEndian.Uint16(src[i:]))
		i += 2
		n := int(tok & 15)
		if n == 15 {
			var ok bool
			if n, i, ok = readCount(src, i, n); !ok {
				return dst[:base], ErrCorrupt
			}
		}
		n += minMatch
		if off == 0 || off > len(out) || n > cap(out)-len(out) {
			return dst[:base], ErrCorrupt
		}
		from := len(out) - off
		if off >= n {
			out = append(out, out[from:from+n]...)
			continue
		}
		for k := range n { // overlapping: a run that repeats itself
			out = append(out, out[from+k])
		}
	}
}

// readCount adds to n the bytes of 255 and the last byte below 255 at
// src[i:], and reports false if src ends first or the count is absurd.
func readCount(src []byte, i, n int) (int, int, bool) {
	for {
		if i >= len(src) || n > 1<<30 {
			return 0, 0, false
		}
		b := src[i]
		i++
		n += int(b)
		if b != 255 {
			return n, i, true
		}
	}
}

// growTo returns dst with room for n more bytes.
func growTo(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	return append(dst[:len(dst):len(dst)], make([]byte, n)...)[:len(dst)]
}
