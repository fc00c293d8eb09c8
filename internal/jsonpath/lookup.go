package jsonpath

import (
	"bytes"
	"math/bits"
	"unicode/utf8"
)

// Lookup returns the id at the first of paths that leads to a string or a
// number in value, by the rules in the package documentation: for a value
// that encoding/json accepts, and that has no key twice along a path, ok is
// false when no path yields an id. The id is a sub-slice of value (with its
// capacity cut, so appending to it copies) unless it had to be unescaped.
// Lookup only reads value and paths, so many goroutines may share them. It
// panics if given more than MaxPaths paths.
func Lookup(value []byte, paths []Path) (id []byte, ok bool) {
	if len(paths) > MaxPaths {
		panic("jsonpath: Lookup given more than MaxPaths paths")
	}
	t := tracker{paths: paths}
	if !scan(value, &t) {
		return nil, false
	}
	return t.result(value)
}

// absent reports whether no path can lead anywhere in value (the rest of
// a value, for scan) because the last key of each, with its closing quote,
// is nowhere in it, which the byte search of the bytes package tells much
// faster than scan can read. A key's raw text is the key itself unless it
// holds escapes or invalid UTF-8 (which decodes to U+FFFD): so this holds
// only for a value without a '\', and for paths whose last key needs no
// escape and holds no U+FFFD.
func absent(value []byte, paths []Path) bool {
	for _, p := range paths {
		if len(p.keys) > 0 && (p.last == nil || bytes.Contains(value, p.last)) {
			return false
		}
	}
	return bytes.IndexByte(value, '\\') < 0
}

// A tracker follows the paths through a scan of value.
type tracker struct {
	paths []Path
	// ends[k] is the set of paths, a bit per path, that end at key k.
	ends [MaxDepth]uint32
	// found[j] is the offset of the first string or number path j leads
	// to, or 0 for none: no id can start at offset 0, where the top-level
	// object opens.
	found [MaxPaths]int
	// done is the set of paths that found an id: the first one found is
	// final, so the scan follows them no further.
	done uint32
	// best is the first path with keys. Once it found an id no other path
	// can beat it, and the scan stops.
	best uint32
	// end is where the id of best ends, if the scan stopped there: the
	// offset of a string's closing quote or just past a number. escaped
	// says whether the string holds escapes.
	end     int
	escaped bool
}

// start returns the set of paths with keys, and fills in ends and best.
func (t *tracker) start() uint32 {
	var all uint32
	for j, p := range t.paths {
		if len(p.keys) > 0 {
			all |= 1 << j
			t.ends[len(p.keys)-1] |= 1 << j
		}
	}
	t.best = all & -all
	return all
}

// key reads an object key, whose raw (still escaped) text is raw, for the
// paths in cur that have not found an id yet, whose key at index k it may
// be. It returns those of them that end there and those that go on.
func (t *tracker) key(cur uint32, k int, raw []byte, escaped bool) (leaf, inner uint32) {
	var m uint32
	for c := cur &^ t.done; c != 0; c &= c - 1 {
		j := bits.TrailingZeros32(c)
		p := &t.paths[j]
		// A raw key without escapes decodes to itself but where it is
		// invalid UTF-8, which decodes to more bytes, U+FFFD: unless key
		// holds U+FFFD it matches only if it is key.
		if !escaped && (len(raw) >= len(p.keys[k]) || p.fffd&(1<<k) == 0) {
			if string(raw) == p.keys[k] {
				m |= 1 << j
			}
		} else if keyEqual(raw, escaped, p.keys[k]) {
			m |= 1 << j
		}
	}
	leaf = m & t.ends[k]
	return leaf, m &^ leaf
}

// record notes that the paths in leaf, none of which found an id yet, lead
// to the value at offset i, and reports whether best is among them.
func (t *tracker) record(leaf uint32, i int) bool {
	t.done |= leaf
	for ; leaf != 0; leaf &= leaf - 1 {
		t.found[bits.TrailingZeros32(leaf)] = i
	}
	return t.done&t.best != 0
}

// result returns the id of the first path that found one. Its string or
// number was read whole by scan, which noted its end if it stopped there.
func (t *tracker) result(value []byte) ([]byte, bool) {
	for j := range t.paths {
		start := t.found[j]
		if start == 0 {
			continue
		}
		end, escaped := t.end, t.escaped
		if t.best != 1<<j || end == 0 {
			if value[start] != '"' {
				end = scanNumber(value, start)
			} else {
				end, escaped = scanString(value, start+1)
			}
		}
		if value[start] != '"' {
			return value[start:end:end], true
		}
		raw := value[start+1 : end : end]
		if !escaped && (ascii(raw) || utf8.Valid(raw)) {
			return raw, true
		}
		return unquote(raw), true
	}
	return nil, false
}

// scan reads value once, noting in t, for each path, where the first
// string or number it leads to starts, and reports whether those results
// are final. It stops after the id of t.best, and the ',' or '}' after it:
// that id is the answer, whatever follows.
//
// scan itself walks only the objects that paths enter, checking their
// syntax, and hands every other object or array to skip, which finds its
// end without checking anything in it: most of a session's bytes are
// there. So a value whose syntax is wrong only in those may have an id,
// as the rules allow.
//
// A path is alive in an object when the keys that lead to the object match
// its first keys. alive[d] is the set of paths alive in the object at depth
// d (the top-level object is at depth 1), a bit per path, and cur the set
// alive in the innermost one. A key that matches the next key of a path
// alive in its object, and that has not found an id yet, is on the path:
// if the path ends at that key (its bit is in t.ends[d-1]) the value found
// is the key's value, when that is a string or a number; otherwise the
// path stays alive inside the value if the value is an object, which scan
// then walks. A path's first id is final, so with duplicate keys the first
// that leads to an id counts. No path is alive deeper than MaxDepth.
func scan(value []byte, t *tracker) bool {
	var (
		n           = len(value)
		i           int
		depth       int
		search      int8 // 0 in the first member, 1 after it, 2 once absent was asked
		cur         uint32
		leaf, inner uint32 // of the last key: paths that end there, and that go on
		alive       [MaxDepth + 1]uint32
		failed      [2]int // for skip
	)
	cur = t.start()
	i = skipSpace(value, 0)
	if cur == 0 || i == n || value[i] != '{' {
		// No id whatever the rest says: no need to read it.
		return false
	}
	depth = 1
	alive[1] = cur
	i++

objectStart: // just after '{'
	i = skipSpace(value, i)
	if i < n && value[i] == '}' {
		i++
		goto closed
	}

atKey: // at the '"' of a key, or what should be one
	if i >= n || value[i] != '"' {
		return false
	}
	{
		end, escaped := plainEnd(value, i+1), false
		if end >= n || value[end] != '"' {
			if end, escaped = scanString(value, end); end < 0 {
				return false
			}
		}
		raw := value[i+1 : end]
		if c := cur &^ t.done; c&(c-1) == 0 && !escaped {
			// At most one path alive, the usual case: compare here, which
			// spares a call, and with it saving scan's variables, for
			// every key of the objects the path goes through. key does
			// the same for more paths, and for escaped keys.
			leaf, inner = 0, 0
			if c != 0 {
				p := &t.paths[bits.TrailingZeros32(c)]
				key := p.keys[depth-1]
				if len(raw) == len(key) && string(raw) == key || len(raw) < len(key) && p.fffd != 0 && keyEqual(raw, false, key) {
					leaf = c & t.ends[depth-1]
					inner = c &^ leaf
				}
			}
		} else {
			leaf, inner = t.key(cur, depth-1, raw, escaped)
		}
		i = skipSpace(value, end+1)
	}
	if i >= n || value[i] != ':' {
		return false
	}
	i = skipSpace(value, i+1)
	if i >= n {
		return false
	}
	switch value[i] {
	case '{':
		if inner != 0 {
			depth++
			cur, alive[depth] = inner, inner
			i++
			goto objectStart
		}
		fallthrough
	case '[':
		if depth == 1 && search == 1 {
			// A container in a member after the first, the cookie in
			// express-session's values, and no path found an id: if none
			// can in the rest, there is no id, whatever the rest says.
			// Searching earlier would spare reading more of a session
			// without an id, but make every session with one pay for the
			// search up to its id.
			search = 2
			if t.done == 0 && absent(value[i:], t.paths) {
				return false
			}
		}
		if i = skip(value, i, &failed); i < 0 {
			return false
		}
	case '"':
		end, escaped := plainEnd(value, i+1), false
		if end >= n || value[end] != '"' {
			if end, escaped = scanString(value, end); end < 0 {
				return false
			}
		}
		if leaf != 0 && t.record(leaf, i) {
			t.end, t.escaped = end, escaped
			return stopAt(value, end+1)
		}
		i = end + 1
	default:
		end := scanScalar(value, i)
		if end < 0 {
			return false
		}
		if leaf != 0 && value[i] != 't' && value[i] != 'f' && value[i] != 'n' && t.record(leaf, i) {
			t.end = end
			return stopAt(value, end)
		}
		i = end
	}

afterValue: // after a value in the object at depth
	i = skipSpace(value, i)
	if i >= n {
		return false
	}
	switch value[i] {
	case ',':
		if depth == 1 && search == 0 {
			search = 1
		}
		i = skipSpace(value, i+1)
		goto atKey
	case '}':
		i++
		goto closed
	}
	return false

closed: // just after the '}' that closed the object at depth
	depth--
	if depth == 0 {
		return skipSpace(value, i) == n
	}
	cur = alive[depth]
	goto afterValue
}

// stopAt returns the outcome of a scan that stops after the id of the
// best path, which ends just before offset i: final if the id is followed
// by ',' or '}', as a value in an object must be. That makes its end
// certain, for a number as for a string, and leaves out a value cut off
// right after the id.
func stopAt(value []byte, i int) bool {
	i = skipSpace(value, i)
	return i < len(value) && (value[i] == ',' || value[i] == '}')
}

// skipSpace returns the offset of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(value []byte, i int) int {
	for ; i < len(value); i++ {
		c := value[i]
		if c > ' ' || c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return i
		}
	}
	return i
}

// hasLiteral reports whether b starts with lit.
func hasLiteral(b []byte, lit string) bool {
	return len(b) >= len(lit) && string(b[:len(lit)]) == lit
}

// scanScalar returns the offset just past the number, true, false or null
// that starts at i, or -1 if none does.
func scanScalar(value []byte, i int) int {
	switch value[i] {
	case 't':
		if hasLiteral(value[i:], "true") {
			return i + 4
		}
		return -1
	case 'f':
		if hasLiteral(value[i:], "false") {
			return i + 5
		}
		return -1
	case 'n':
		if hasLiteral(value[i:], "null") {
			return i + 4
		}
		return -1
	}
	return scanNumber(value, i)
}

// scanNumber returns the offset just past the JSON number that starts at i,
// or -1 if none does. The byte after it is for the caller to check.
func scanNumber(value []byte, i int) int {
	n := len(value)
	if value[i] == '-' {
		i++
	}
	switch {
	case i < n && value[i] == '0':
		i++
	case i < n && '1' <= value[i] && value[i] <= '9':
		i = digits(value, i+1)
	default:
		return -1
	}
	if i < n && value[i] == '.' {
		if i+1 >= n || !isDigit(value[i+1]) {
			return -1
		}
		i = digits(value, i+1)
	}
	if i < n && (value[i] == 'e' || value[i] == 'E') {
		i++
		if i < n && (value[i] == '+' || value[i] == '-') {
			i++
		}
		if i >= n || !isDigit(value[i]) {
			return -1
		}
		i = digits(value, i)
	}
	return i
}

// digits returns the offset of the first byte at or after i that is not a
// decimal digit.
func digits(value []byte, i int) int {
	for i < len(value) && isDigit(value[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
