package jsonpath

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// Masks for testing eight bytes of a string at once.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special has the high bit set in the first byte of x (in memory order)
// that ends a run of plain string bytes: '"', '\' or a control character
// below 0x20. Bytes after that one may be marked too, wrongly, but never
// bytes before it: a byte's test borrows only from lower bytes, and only
// when one of those matched.
//
// One test finds both '"' and the control characters: flipping bit 1 maps
// '"' (0x22) to 0x20 and the bytes below 0x20 among themselves, and moves
// no other byte below 0x21. A subtraction sets a byte's high bit if the
// byte is below what it subtracts, or at least 0x80 + that, and the two
// tests share the removal of the bytes from 0x80 up, whose high bit the
// XORs keep.
func special(x uint64) uint64 {
	q := x ^ (ones * 0x02)
	b := x ^ (ones * '\\')
	return ((q - ones*0x21) | (b - ones)) &^ x & highs
}

// quoteOrBackslash has the high bit set in the first byte of x (in memory
// order) that is '"' or '\', as special has, without the control
// characters: for skip, which checks nothing in strings but where they end.
func quoteOrBackslash(x uint64) uint64 {
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q - ones) | (b - ones)) &^ x & highs
}

// plainEnd returns the offset of the first byte at or after i that is '"',
// '\' or a control character, looking eight bytes at a time: if fewer
// than eight are left it stops there, whatever the byte. It is small enough
// to be inlined where scan reads a string.
func plainEnd(value []byte, i int) int {
	for ; i+8 <= len(value); i += 8 {
		if m := special(binary.LittleEndian.Uint64(value[i : i+8 : i+8])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	return i
}

// ascii reports whether b is all ASCII, looking eight bytes at a time.
func ascii(b []byte) bool {
	var x uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x |= binary.LittleEndian.Uint64(b[i:])
	}
	for ; i < len(b); i++ {
		x |= uint64(b[i])
	}
	return x&highs == 0
}

// scanString returns the offset of the '"' that closes the JSON string
// whose contents start at or before i (any bytes before i being plain),
// and whether the string holds escapes from i on; or -1 if the string is
// unterminated, holds a control character or an escape encoding/json's
// scanner rejects.
func scanString(value []byte, i int) (end int, escaped bool) {
	n := len(value)
	for {
		i = plainEnd(value, i)
		for i < n && value[i] >= 0x20 && value[i] != '"' && value[i] != '\\' {
			i++
		}
		if i >= n || value[i] < 0x20 {
			return -1, false
		}
		if value[i] == '"' {
			return i, escaped
		}
		if i+1 >= n {
			return -1, false
		}
		escaped = true
		switch value[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if hex4(value[i+2:]) < 0 {
				return -1, false
			}
			i += 6
		default:
			return -1, false
		}
	}
}

// hex4 returns the number that the first four bytes of b spell in
// hexadecimal, or -1 if they do not.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// decodeNext decodes the next character of the contents raw of a string
// that scanString accepted, starting at offset r, as encoding/json's
// unquote does, and returns its UTF-8 bytes (in buf, or in raw) and the
// offset after it. Invalid UTF-8 and unpaired surrogates come out as
// U+FFFD.
func decodeNext(raw []byte, r int, buf *[utf8.UTFMax]byte) ([]byte, int) {
	c := raw[r]
	switch {
	case c < utf8.RuneSelf && c != '\\':
		return raw[r : r+1], r + 1
	case c >= utf8.RuneSelf:
		rr, size := utf8.DecodeRune(raw[r:])
		if rr == utf8.RuneError && size == 1 {
			return buf[:utf8.EncodeRune(buf[:], rr)], r + 1
		}
		return raw[r : r+size], r + size
	}
	switch e := raw[r+1]; e {
	case 'b':
		buf[0] = '\b'
	case 'f':
		buf[0] = '\f'
	case 'n':
		buf[0] = '\n'
	case 'r':
		buf[0] = '\r'
	case 't':
		buf[0] = '\t'
	case 'u':
		rr := hex4(raw[r+2:])
		r += 6
		if utf16.IsSurrogate(rr) {
			// A pair only if a \u escape of the other half follows, as
			// encoding/json's unquote reads it; else U+FFFD and the next
			// escape is read on its own.
			var rr1 rune = -1
			if r+1 < len(raw) && raw[r] == '\\' && raw[r+1] == 'u' {
				rr1 = hex4(raw[r+2:])
			}
			if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
				return buf[:utf8.EncodeRune(buf[:], dec)], r + 6
			}
			rr = utf8.RuneError
		}
		return buf[:utf8.EncodeRune(buf[:], rr)], r
	default: // '"', '\\', '/'
		buf[0] = e
	}
	return buf[:1], r + 2
}

// unquote returns the contents raw of a string that scanString accepted,
// decoded.
func unquote(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+utf8.UTFMax)
	var buf [utf8.UTFMax]byte
	for r := 0; r < len(raw); {
		var ch []byte
		ch, r = decodeNext(raw, r, &buf)
		out = append(out, ch...)
	}
	return out
}

// keyEqual reports whether the contents raw of a string that scanString
// accepted decode to key, which is valid UTF-8. It does not allocate.
func keyEqual(raw []byte, escaped bool, key string) bool {
	if !escaped {
		if string(raw) == key {
			return true
		}
		// Without escapes raw decodes to itself, but for each byte of
		// invalid UTF-8, which becomes the three of U+FFFD: only a raw
		// shorter than key can decode to it, and only if it is invalid.
		if len(raw) >= len(key) || utf8.Valid(raw) {
			return false
		}
	}
	var buf [utf8.UTFMax]byte
	for r := 0; r < len(raw); {
		var ch []byte
		ch, r = decodeNext(raw, r, &buf)
		if len(key) < len(ch) || key[:len(ch)] != string(ch) {
			return false
		}
		key = key[len(ch):]
	}
	return key == ""
}
