package glob

import (
	"strings"
	"testing"
)

// The reference matcher below is deliberately naive: it turns the pattern
// into a list of tokens, each class into an explicit 256-entry set, and
// then tries every split with plain recursion (memoised so the fuzzer
// stays fast). It shares no code with Match, so FuzzMatch compares two
// independent readings of Redis's rules.

// token is one pattern element: a star, or a set of bytes that one byte
// of the key must belong to.
type token struct {
	star bool
	set  [256]bool
}

// tokenize splits pattern the way stringmatchlen walks it.
func tokenize(pattern string) []token {
	var toks []token
	p := []byte(pattern)
	for i := 0; i < len(p); {
		var t token
		switch p[i] {
		case '*':
			t.star = true
			i++
		case '?':
			for c := range t.set {
				t.set[c] = true
			}
			i++
		case '\\':
			if i+1 < len(p) {
				i++
			}
			t.set[p[i]] = true
			i++
		case '[':
			t.set, i = tokenizeClass(p, i+1)
		default:
			t.set[p[i]] = true
			i++
		}
		toks = append(toks, t)
	}
	return toks
}

// tokenizeClass reads a set starting just after '[' and returns it with
// the index after the set.
func tokenizeClass(p []byte, i int) (set [256]bool, next int) {
	negate := false
	if i < len(p) && p[i] == '^' {
		negate = true
		i++
	}
	for {
		if i == len(p) {
			break // unterminated: the set runs to the end of the pattern
		}
		if p[i] == '\\' && i+1 < len(p) {
			set[p[i+1]] = true
			i += 2
			continue
		}
		if p[i] == ']' {
			i++
			break
		}
		if i+2 < len(p) && p[i+1] == '-' {
			lo, hi := int(p[i]), int(p[i+2])
			if lo > hi {
				lo, hi = hi, lo
			}
			for c := lo; c <= hi; c++ {
				set[c] = true
			}
			i += 3
			continue
		}
		set[p[i]] = true
		i++
	}
	if negate {
		for c := range set {
			set[c] = !set[c]
		}
	}
	return set, i
}

// refMatch is the reference for Match on short inputs. It leaves out the
// 1000-star nesting guard, which short patterns cannot reach.
func refMatch(pattern, s string) bool {
	if pattern == "*" {
		return true // KEYS/SCAN shortcut
	}
	if s == "" {
		return pattern == "" // stringmatchlen never enters its loop
	}
	toks := tokenize(pattern)
	memo := make(map[[2]int]bool)
	var rec func(t, i int) bool
	rec = func(t, i int) bool {
		key := [2]int{t, i}
		if v, ok := memo[key]; ok {
			return v
		}
		var ok bool
		switch {
		case t == len(toks):
			ok = i == len(s)
		case toks[t].star:
			for j := i; j <= len(s) && !ok; j++ {
				ok = rec(t+1, j)
			}
		default:
			ok = i < len(s) && toks[t].set[s[i]] && rec(t+1, i+1)
		}
		memo[key] = ok
		return ok
	}
	return rec(0, 0)
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern, tc.s)
	}
	f.Add("sess:*", "sess:3f2c9a7e1b4d4e8f9a0b7c6d5e4f3a2b")
	f.Add("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Match(pattern, s) // must not panic at any length

		prefix := LiteralPrefix(pattern)
		if pattern != "" && !strings.ContainsRune("*?[", rune(pattern[0])) && prefix == "" {
			t.Errorf("LiteralPrefix(%q) = \"\", but the pattern starts with a literal", pattern)
		}
		if got && !strings.HasPrefix(s, prefix) {
			t.Errorf("Match(%q, %q) = true, but the key lacks LiteralPrefix %q", pattern, s, prefix)
		}
		// A pattern with no wildcards is all prefix, and must match it.
		if !strings.ContainsAny(pattern, "*?[") && pattern != "" {
			if !Match(pattern, prefix) {
				t.Errorf("literal pattern %q does not match its own LiteralPrefix %q", pattern, prefix)
			}
		}

		// The reference is exponential-free but still quadratic with a map;
		// keep it to inputs a fuzzer can churn through.
		if len(pattern) > 64 || len(s) > 64 {
			return
		}
		if want := refMatch(pattern, s); got != want {
			t.Errorf("Match(%q, %q) = %v, reference says %v", pattern, s, got, want)
		}
	})
}
