// Package glob matches keys against the glob patterns of Redis's KEYS and
// SCAN ... MATCH, with the same results Redis gives, byte for byte.
//
// The syntax is that of stringmatchlen in Redis's src/util.c:
//
//   - "*" matches any run of bytes, including none;
//   - "?" matches exactly one byte;
//   - "[abc]" matches one byte from the set, "[^abc]" one byte not in it;
//   - "[a-z]" matches one byte in the range, and "[z-a]" is the same range;
//   - "\x" matches the byte x itself, outside brackets and inside them.
//
// Anything else, including a lone ']', '^' or '-', stands for itself.
// Matching is case-sensitive and works on bytes, not runes.
//
// # Caveats
//
// Redis's matcher has corners that this package copies on purpose, so that
// a client moving between Redis and sessiond sees the same keys:
//
//   - A pattern other than "" never matches the empty key, except "*",
//     which KEYS and SCAN treat as "everything" before matching. So "**"
//     and "a*" do not match "" while "*" does.
//   - "[]" matches nothing and "[^]" any one byte; ']' cannot be put in a
//     set by placing it first, only by escaping it: "[\]]".
//   - A '[' with no closing ']' takes the rest of the pattern as its set:
//     "[abc" matches "a", "b" or "c", and "[" matches nothing.
//   - The byte after '-' is always a range end, even ']' or '\': "[a-]x]"
//     is the range ']'..'a' plus 'x', and "[a-]" is left unterminated.
//     Escapes are not honoured at either end of a range.
//   - A pattern that needs more than 1000 nested '*' (counting each run of
//     '*' that is followed by something else) matches nothing. Redis gives
//     up there to protect its C stack; it tests this in keyspace.tcl
//     ("Regression for pattern matching very long nested loops").
//
// Ranges compare bytes as unsigned. Redis compares C chars, which are
// signed on x86 builds, so there a range with one end at or above 0x80
// behaves differently (on arm64 builds it agrees with this package).
//
// Match runs in O(len(pattern)*len(s)) time whatever the pattern: it never
// backtracks past the latest '*', so patterns like "a*a*a*a*b" cannot make
// it take exponential time.
package glob

import "strings"

// maxNesting is the number of non-trailing '*' runs beyond which Redis
// declines to match (its recursion guard, "nesting > 1000").
const maxNesting = 1000

// Match reports whether s matches the Redis glob pattern, as KEYS pattern
// or SCAN ... MATCH pattern would decide it. It does not allocate.
func Match(pattern, s string) bool {
	// KEYS and SCAN skip matching entirely for exactly "*", which is why
	// "*" matches the empty key although stringmatchlen itself says no.
	if pattern == "*" {
		return true
	}
	// stringmatchlen loops while both pattern and string remain, so with an
	// empty string it never looks at the pattern: only "" matches "".
	if s == "" {
		return pattern == ""
	}

	// Iterative matching with one remembered star. Every element other
	// than '*' consumes exactly one byte, so when the text after the latest
	// star fails, only making that star longer can help; earlier stars
	// never need to be revisited. This is the same pruning Redis gets from
	// skipLongerMatches, without the recursion.
	p, i := 0, 0
	starP, starI := -1, 0 // pattern index after the latest star, and where its match began
	nesting := 0
	for i < len(s) {
		if p < len(pattern) {
			if pattern[p] == '*' {
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true // a trailing star takes whatever is left
				}
				nesting++
				if nesting > maxNesting {
					return false
				}
				starP, starI = p, i
				continue
			}
			if ok, next := matchOne(pattern, p, s[i]); ok {
				p = next
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne reports whether the single-byte element at pattern[p], which
// is not '*', matches c, and returns the index just past the element.
// Where an element ends never depends on c, which is what lets Match
// backtrack by index alone.
func matchOne(pattern string, p int, c byte) (ok bool, next int) {
	switch pattern[p] {
	case '?':
		return true, p + 1
	case '[':
		return matchClass(pattern, p+1, c)
	case '\\':
		// A trailing backslash has nothing to escape and stands for itself.
		if p+1 < len(pattern) {
			return pattern[p+1] == c, p + 2
		}
		return c == '\\', p + 1
	default:
		return pattern[p] == c, p + 1
	}
}

// matchClass matches c against the set that starts at pattern[p], just
// after its '['. The order of the tests below is Redis's, and it matters:
// an escape is looked at before ']', and a range is recognised before a
// plain byte, so the byte after '-' is taken raw even when it is ']'.
func matchClass(pattern string, p int, c byte) (ok bool, next int) {
	negate := p < len(pattern) && pattern[p] == '^'
	if negate {
		p++
	}
	matched := false
	for {
		switch {
		case p+1 < len(pattern) && pattern[p] == '\\':
			p++
			if pattern[p] == c {
				matched = true
			}
		case p >= len(pattern):
			// Unterminated: Redis treats the rest of the pattern as the set
			// and the element as running to the end of the pattern.
			return matched != negate, len(pattern)
		case pattern[p] == ']':
			return matched != negate, p + 1
		case p+2 < len(pattern) && pattern[p+1] == '-':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if lo <= c && c <= hi {
				matched = true
			}
			p += 2
		default:
			if pattern[p] == c {
				matched = true
			}
		}
		p++
	}
}

// LiteralPrefix returns the bytes every key matching pattern must start
// with: the pattern up to its first '*', '?' or '[', with escapes
// resolved. Callers use it to skip keys, or whole ranges of sorted keys,
// without running Match. It allocates only when the prefix holds an escape.
func LiteralPrefix(pattern string) string {
	end := strings.IndexAny(pattern, `*?[\`)
	if end < 0 {
		return pattern
	}
	if pattern[end] != '\\' {
		return pattern[:end]
	}
	var b strings.Builder
	b.WriteString(pattern[:end])
	for p := end; p < len(pattern); p++ {
		switch c := pattern[p]; c {
		case '*', '?', '[':
			return b.String()
		case '\\':
			if p+1 < len(pattern) {
				p++
			}
			b.WriteByte(pattern[p])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
