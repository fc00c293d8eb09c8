package jsonpath

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzLookup holds Lookup to the rules for random values and specs, and to
// encoding/json's answer wherever the rules do not depart from it
// (checkLookup): for every value encoding/json accepts without a key twice
// along a path. It starts from the table's cases.
func FuzzLookup(f *testing.F) {
	for _, c := range lookupCases {
		if len(c.value) > 4096 {
			// The 10,000-deep cases: TestLookup holds them to encoding/json,
			// and as seeds they would slow the fuzzer down a hundredfold.
			continue
		}
		spec := c.spec
		if spec == "" {
			spec = "passport.user"
		}
		f.Add([]byte(c.value), spec)
	}
	f.Add([]byte(session), "cart.currency,cookie.originalMaxAge,passport.user")
	f.Add([]byte(`{"a":{"b":"x"},"a":{"b":"y"},"c":[{"a":1}]}`), "a.b,c,a")
	f.Add([]byte(lateSession+" x"), "passport.user")
	f.Fuzz(func(t *testing.T, value []byte, spec string) {
		paths, err := Parse(spec)
		if err != nil {
			return
		}
		before := bytes.Clone(value)
		id, ok := Lookup(value, paths)
		if !bytes.Equal(value, before) {
			t.Fatalf("Lookup changed the value")
		}
		if err := checkLookup(value, paths, id, ok); err != nil {
			t.Fatalf("Lookup(%q, %q): %v", value, spec, err)
		}
	})
}

// FuzzParse checks that Parse keeps its limits, gives keys that are valid
// UTF-8 and not empty, or an error that says which rule was broken, and
// that a path written with String parses back to itself.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		paths, err := Parse(spec)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrLimit) {
				t.Fatalf("Parse(%q): error %v is neither ErrSyntax nor ErrLimit", spec, err)
			}
			return
		}
		if len(paths) > MaxPaths {
			t.Fatalf("Parse(%q) gave %d paths", spec, len(paths))
		}
		for _, p := range paths {
			if len(p.Keys()) == 0 || len(p.Keys()) > MaxDepth {
				t.Fatalf("Parse(%q) gave a path of %d keys", spec, len(p.Keys()))
			}
			for _, k := range p.Keys() {
				if k == "" || !utf8.ValidString(k) {
					t.Fatalf("Parse(%q) gave key %q", spec, k)
				}
			}
		}
		checkRoundTrip(t, spec, paths)
	})
}
