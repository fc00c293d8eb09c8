package jsonpath

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLookup holds Lookup to the rules for random values and specs
// (checkLookup): to encoding/json's answer for every value encoding/json
// accepts without a key twice along a path, to the rules' reading of such a
// key for the others it accepts, and for any value to what the rules
// promise of every answer. It starts from the table's cases.
//
// Random bytes are seldom valid JSON, and Lookup is exact only on valid
// JSON: so each value also goes, as a string, into a valid value around it
// (wrap), in objects and arrays that no path enters, where Lookup only
// matches brackets, and at the default path.
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
	f.Add([]byte(`{"c":{"a":"}\\\"{","b":[{"c":"]"}]},"passport":{"user":"u1"}}`), "passport.user,c.b")
	// A session without quotes or brackets: wrapped, a long string in which
	// the fuzzer can put them anywhere.
	f.Add([]byte(strings.Map(func(r rune) rune {
		if strings.ContainsRune(`"{}[]`, r) {
			return -1
		}
		return r
	}, session)), "passport.user")
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
		wrapped := wrap(value)
		id, ok = Lookup(wrapped, paths)
		if err := checkLookup(wrapped, paths, id, ok); err != nil {
			t.Fatalf("Lookup(%q, %q): %v", wrapped, spec, err)
		}
	})
}

// wrap returns a valid JSON object that holds b as a string, in objects
// and arrays off the default path, and at it: as encoding/json writes it
// (escaped), and with '"', '\' and the control characters made '.', so
// that its brackets stand in strings without a backslash, which skip reads
// on a faster way.
func wrap(b []byte) []byte {
	q, err := json.Marshal(string(b))
	if err != nil {
		panic(err)
	}
	p := []byte{'"'}
	for _, c := range b {
		if c == '"' || c == '\\' || c < 0x20 {
			c = '.'
		}
		p = append(p, c)
	}
	p = append(p, '"')
	return fmt.Appendf(nil, `{"c":{"p":%s,"a":[%s,{"t":%s}],"s":%s,"b":[%s,{"u":%s}],%s:[]},"passport":{"user":%s}}`, p, p, p, q, q, q, p, q)
}

// FuzzSkip checks that skip finds the end of every object or array that
// encoding/json accepts, whatever the syntax of what follows, and on any
// other value returns an offset after the start, or -1, without panicking.
func FuzzSkip(f *testing.F) {
	for _, c := range lookupCases {
		if len(c.value) <= 4096 {
			f.Add([]byte(c.value), []byte(nil))
		}
	}
	f.Add([]byte(session), []byte(`,"x":1}`))
	f.Add([]byte(`[{"a":"]"},[[]],{"b":{"c":"\\"}}]`), []byte(`]}"`))
	f.Fuzz(func(t *testing.T, value, after []byte) {
		i := skipJSONSpace(value, 0)
		if i == len(value) || value[i] != '{' && value[i] != '[' {
			return
		}
		value = bytes.TrimRight(value, " \t\r\n")
		all := append(value[:len(value):len(value)], after...)
		got := skip(all, i, new([2]int))
		if got != -1 && (got <= i || got > len(all)) {
			t.Fatalf("skip(%q) = %d, out of range", all, got)
		}
		if json.Valid(value) && got != len(value) {
			t.Fatalf("skip(%q + %q) = %d, want %d", value, after, got, len(value))
		}
		// As random bytes are seldom valid JSON, the value also goes, as
		// a string, into a valid object.
		wrapped := wrap(value)
		if got := skip(append(wrapped, after...), 0, new([2]int)); got != len(wrapped) {
			t.Fatalf("skip(%q + %q) = %d, want %d", wrapped, after, got, len(wrapped))
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
