package jsonpath

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// skip returns the offset just past the object or array that opens at
// value[i], or -1 if value ends before it closes. It matches brackets, and
// reads strings only as far as it takes to tell the brackets in them from
// the others: it checks nothing else. On valid JSON the offset is the
// container's end; on other values it is only some offset after i, which is
// all that Lookup's rules ask there (see the package documentation).
//
// Most containers off a path hold no container of their own kind and no
// backslash, as express-session's cookie: flat finds their end several
// times faster than a loop over their bytes can. The others are read byte
// by byte, strings eight bytes at a time, and each container in them is
// tried with flat in turn.
//
// failed, which the caller keeps for all the skips of one value, in order,
// holds where flat last failed for each kind of container (kind): the
// first close of that kind after the container it tried. flat is not tried
// again on a container of that kind before there, since it would read
// again what it read then. So no byte is read by more than one failed try
// of each kind, and the time stays linear in the length of the value. The
// depth is a count: nesting takes no stack.
func skip(value []byte, i int, failed *[2]int) int {
	if k := kind(value[i]); i >= failed[k] {
		end, ok := flat(value, i)
		if ok || end < 0 {
			return end
		}
		failed[k] = end
	}
	depth := 1
	for i++; i < len(value); i++ {
		switch c := value[i]; c {
		case '"':
			i = stringEnd(value, i+1)
		case '{', '[':
			if k := kind(c); i >= failed[k] {
				end, ok := flat(value, i)
				if ok {
					i = end - 1
					continue
				}
				if end < 0 {
					return -1
				}
				failed[k] = end
			}
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// kind is 1 for '{' and 0 for '['.
func kind(open byte) int { return int(open>>5) & 1 }

// quote is what flat counts.
var quote = []byte{'"'}

// flat returns the offset just past the container that opens at value[i]
// and ok, if the container holds no container of its kind and no backslash;
// or else the offset of the first close of its kind after i, or -1 if there
// is none. Such a container, in valid JSON, ends at that first close if an
// even number of quotes stands between (so that the close is not in a
// string): the containers of the other kind in it, closed by then, are
// whole. The bytes package tells all that with four searches that read 32
// bytes at a time where the CPU can.
func flat(value []byte, i int) (end int, ok bool) {
	open := value[i]
	e := bytes.IndexByte(value[i+1:], open+2) // '{'+2 is '}', '['+2 is ']'
	if e < 0 {
		return -1, false
	}
	end = i + 1 + e
	in := value[i+1 : end]
	if bytes.IndexByte(in, open) < 0 && bytes.IndexByte(in, '\\') < 0 && bytes.Count(in, quote)&1 == 0 {
		return end + 1, true
	}
	return end, false
}

// stringEnd returns the offset of the '"' that closes the string whose
// contents start at i, or len(value) if none does. It skips a byte after
// each backslash, and checks nothing else.
func stringEnd(value []byte, i int) int {
	n := len(value)
	for {
		for ; i+8 <= n; i += 8 {
			if m := quoteOrBackslash(binary.LittleEndian.Uint64(value[i : i+8 : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		for ; i < n && value[i] != '"' && value[i] != '\\'; i++ {
		}
		if i >= n || value[i] == '"' {
			return min(i, n)
		}
		i += 2
	}
}
