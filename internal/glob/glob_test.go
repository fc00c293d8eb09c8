package glob

import (
	"strings"
	"testing"
)

// matchCases were checked against stringmatchlen_impl in Redis's
// src/util.c (unstable, after the skipLongerMatches fix for
// CVE-2022-36021), by reading the source and by running it on them. The
// note on each group says which branch of that function decides it.
var matchCases = []struct {
	pattern, s string
	want       bool
}{
	// Plain bytes: the default branch compares one byte at a time.
	{"", "", true},
	{"", "a", false},
	{"abc", "abc", true},
	{"abc", "abd", false},
	{"abc", "ab", false},
	{"ab", "abc", false},
	{"ABC", "abc", false}, // case-sensitive (nocase=0)
	{"]", "]", true},      // ']', '^' and '-' are special only inside [...]
	{"^-", "^-", true},

	// '*': the empty-string corner. The loop runs only while both pattern
	// and string remain, so an empty key matches only the empty pattern;
	// "*" alone is the exception because KEYS and SCAN never call the
	// matcher for it (db.c: allkeys / use_pattern).
	{"*", "", true},
	{"**", "", false},
	{"a*", "", false},
	{"?", "", false},
	{"*", "anything", true},
	{"**", "x", true},
	{"a*", "a", true}, // trailing stars are skipped once the string is used up
	{"a**", "a", true},
	{"a*b", "ab", true},
	{"a*b", "axxb", true},
	{"a*b", "axxbx", false},
	{"*b", "ab", true},
	{"*b", "abba", false},
	{"a*b*c", "abbbcbc", true},
	{"*a*", "bab", true},
	{"*a*", "bbb", false},
	{"sess:*", "sess:0123456789abcdef", true},
	{"sess:*", "user:1", false},
	{"h*llo", "heeeello", true},

	// '?': exactly one byte.
	{"?", "a", true},
	{"?", "ab", false},
	{"h?llo", "hello", true},
	{"h?llo", "hllo", false},
	{"*?", "a", true},
	{"?*?", "a", false},

	// Sets: the '[' branch.
	{"h[ae]llo", "hello", true},
	{"h[ae]llo", "hallo", true},
	{"h[ae]llo", "hillo", false},
	{"h[^e]llo", "hallo", true},
	{"h[^e]llo", "hello", false},
	{"h[a-b]llo", "hbllo", true},
	{"h[a-b]llo", "hcllo", false},
	{"[z-a]", "m", true}, // reversed ranges are swapped (start > end)
	{"[z-a]", "A", false},
	{"[--0]", "/", true}, // '-' can be a range end
	{"[a-]", "_", true},  // the byte after '-' is taken raw: range ']'..'a', unterminated
	{"[a-]", "b", false},
	{"[a-]x]", "x", true},   // range ']'..'a', then 'x', then the closing ']'
	{"[a-]x]", "]", true},   // ']' is the low end of the range
	{"[a-]x]", "x]", false}, // the second ']' closed the set
	{"[a-", "-", true},      // too short for a range: 'a' and '-' are plain
	{"[a-", "b", false},
	{"[]", "]", false},   // ']' right after '[' closes an empty set
	{"[]a]", "]", false}, // ... so this is "[]" followed by "a]"
	{"[]a]", "a]", false},
	{"[^]", "x", true}, // negated empty set: any one byte
	{"[^]", "", false},
	{"[^]]", "]]", true}, // "[^]" (any byte) then a literal ']'
	{"[^]]", "x]", true},
	{"[^]]", "]", false},
	{"[ab", "a", true}, // unterminated: the rest of the pattern is the set
	{"[ab", "b", true},
	{"[ab", "ab", false},
	{"[", "[", false}, // unterminated and empty: matches nothing
	{"[", "", false},
	{"[^", "x", true}, // unterminated negated empty set: any one byte
	{"x[", "x", false},
	{"[*]", "*", true}, // '*' and '?' are plain inside a set
	{"[*]", "ab", false},
	{"[?]", "a", false},
	{"[[]", "[", true},
	{"[^^]", "^", false},
	{"[a^]", "^", true}, // '^' negates only right after '['

	// Escapes: the '\\' branch outside sets, the first test inside them.
	{`\*`, "*", true},
	{`\*`, "a", false},
	{`\?`, "?", true},
	{`\?`, "a", false},
	{`\[a]`, "[a]", true},
	{`\\`, `\`, true},
	{`a\`, `a\`, true}, // a trailing backslash stands for itself
	{`a\`, "a", false},
	{`\a`, "a", true},
	{`[\]]`, "]", true},
	{`[\]]`, `\`, false},
	{`[\-a]`, "-", true},
	{`[\-a]`, "a", true},
	{`[\a-z]`, "m", false}, // escaped 'a' is plain, so "-z" is '-' and 'z'
	{`[\a-z]`, "-", true},
	{`[a-\]`, `\`, true}, // no escape at a range end: range '\'..'a'
	{`[a-\]`, "_", true},
	{`[a-\]`, "b", false},
	{`[\`, `\`, true},   // unterminated set holding a lone backslash
	{`[^\]`, "x", true}, // escaped ']' cannot close: an unterminated set of ']'
	{`[^\]`, `\`, true},
	{`[^\]`, "]", false},
	{`*\*`, "ab*", true},
	{`*\*`, "ab", false},
	{`[\^a]`, "^", true},

	// Bytes above 0x7f compare unsigned (see the package doc for x86).
	{"[a-\xff]", "\x80", true},
	{"[a-\xff]", "b", true},
	{"[a-\xff]", "A", false},
	{"\xff*", "\xffx", true},
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases {
		t.Run(tc.pattern+"|"+tc.s, func(t *testing.T) {
			if got := Match(tc.pattern, tc.s); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
			if got := refMatch(tc.pattern, tc.s); got != tc.want {
				t.Errorf("refMatch(%q, %q) = %v, want %v (reference disagrees with the table)", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

// TestMatchNesting pins Redis's recursion guard: stringmatchlen_impl
// returns 0 once nesting > 1000, so a match that needs 1001 nested stars
// fails. Redis's keyspace.tcl checks the same thing with
// KEYS [string repeat "*?" 50000] against 50000 a's, expecting no keys.
func TestMatchNesting(t *testing.T) {
	tests := []struct {
		name       string
		pattern, s string
		want       bool
	}{
		{"1000 stars", strings.Repeat("*?", 1000), strings.Repeat("a", 1000), true},
		{"1001 stars", strings.Repeat("*?", 1001), strings.Repeat("a", 1001), false},
		{"keyspace.tcl very long nested loops", strings.Repeat("*?", 50000), strings.Repeat("a", 50000), false},
		// A trailing run is not nesting: Redis returns at once for it.
		{"1000 stars and a trailing one", strings.Repeat("*a", 1000) + "*", strings.Repeat("a", 1000), true},
		// Runs of '*' count once, as Redis collapses them before recursing.
		{"doubled stars", strings.Repeat("**?", 1000), strings.Repeat("a", 1000), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.pattern, tc.s); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMatchPathological guards against exponential backtracking, the
// problem behind CVE-2022-36021. Without pruning these take longer than
// the test timeout; with it they are linear in the key length.
func TestMatchPathological(t *testing.T) {
	tests := []struct {
		name       string
		pattern, s string
	}{
		// keyspace.tcl "Regression for pattern matching long nested loops".
		{"keyspace.tcl long nested loops", "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 40)},
		{"long key", strings.Repeat("a*", 30) + "b", strings.Repeat("a", 100_000)},
		{"sets and stars", strings.Repeat("[a-z]*", 30) + "0", strings.Repeat("q", 100_000)},
		{"question marks", strings.Repeat("*?", 500) + "b", strings.Repeat("a", 20_000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if Match(tc.pattern, tc.s) {
				t.Errorf("Match = true, want false")
			}
		})
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	key := "sess:3f2c9a7e-1b4d-4e8f-9a0b-7c6d5e4f"
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		for _, tc := range matchCases {
			if Match(tc.pattern, tc.s) {
				n++
			}
		}
		if Match("sess:*", key) {
			n++
		}
	})
	if n == 0 {
		t.Fatal("no pattern matched: the cases are not exercising Match")
	}
	if allocs != 0 {
		t.Errorf("Match allocated %v times per run, want 0", allocs)
	}
}

func TestLiteralPrefix(t *testing.T) {
	tests := []struct {
		pattern, want string
	}{
		{"", ""},
		{"sess:*", "sess:"},
		{"sess:abc", "sess:abc"},
		{"*", ""},
		{"a?b", "a"},
		{"ab[cd]", "ab"},
		{"ab]cd*", "ab]cd"}, // ']' '^' '-' are plain outside a set
		{"^-x?", "^-x"},
		{`a\*b*`, "a*b"},
		{`\*x`, "*x"},
		{`a\\b?`, `a\b`},
		{`\[sess\]:*`, "[sess]:"},
		{`a\`, `a\`}, // a trailing backslash stands for itself in Match too
		{`\`, `\`},
		{`ab\c\`, `abc\`},
		{`a\b[`, "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			if got := LiteralPrefix(tc.pattern); got != tc.want {
				t.Errorf("LiteralPrefix(%q) = %q, want %q", tc.pattern, got, tc.want)
			}
		})
	}
}

func TestLiteralPrefixDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		LiteralPrefix("sess:*")
		LiteralPrefix("sess:abc")
	})
	if allocs != 0 {
		t.Errorf("LiteralPrefix allocated %v times per run, want 0", allocs)
	}
}

func BenchmarkMatch(b *testing.B) {
	// A 37-byte session key: "sess:" and a 32-byte id.
	key := "sess:3f2c9a7e1b4d4e8f9a0b7c6d5e4f3a2b"
	if len(key) != 37 {
		b.Fatalf("key is %d bytes, want 37", len(key))
	}
	benchmarks := []struct {
		name, pattern string
	}{
		{"prefix", "sess:*"},
		{"infix", "sess:*4e8f*"},
		{"set", "sess:[0-9a-f]*"},
		{"miss", "user:*"},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(key)))
			for b.Loop() {
				Match(bm.pattern, key)
			}
		})
	}
}

func BenchmarkMatchPathological(b *testing.B) {
	pattern := strings.Repeat("a*", 20) + "b"
	s := strings.Repeat("a", 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Match(pattern, s)
	}
}
