package jsonpath

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var parseCases = []struct {
	name string
	spec string
	keys [][]string // nil with err
	err  error
}{
	{name: "default", spec: "passport.user", keys: [][]string{{"passport", "user"}}},
	{name: "one key", spec: "uid", keys: [][]string{{"uid"}}},
	{name: "list", spec: "passport.user,user.id,uid", keys: [][]string{{"passport", "user"}, {"user", "id"}, {"uid"}}},
	{name: "spaces around paths", spec: "  passport.user ,  uid  ", keys: [][]string{{"passport", "user"}, {"uid"}}},
	{name: "spaces inside are kept", spec: "a b.c , d", keys: [][]string{{"a b", "c"}, {"d"}}},
	{name: "spaces around a dot are kept", spec: "a . b", keys: [][]string{{"a ", " b"}}},
	{name: "escaped dot", spec: `a\.b.c`, keys: [][]string{{"a.b", "c"}}},
	{name: "escaped comma", spec: `a\,b,c`, keys: [][]string{{"a,b"}, {"c"}}},
	{name: "escaped backslash", spec: `a\\.b`, keys: [][]string{{`a\`, "b"}}},
	{name: "escaped spaces at the ends", spec: `\ a\ ,\  \ `, keys: [][]string{{" a "}, {"   "}}},
	{name: "escaped space inside", spec: `a\ b`, keys: [][]string{{"a b"}}},
	{name: "unicode", spec: "ключ.名前.😀", keys: [][]string{{"ключ", "名前", "😀"}}},
	{name: "U+FFFD", spec: "\uFFFD", keys: [][]string{{"\uFFFD"}}},
	{name: "quotes and colons", spec: `"a":b`, keys: [][]string{{`"a":b`}}},
	{name: "empty", spec: ""},
	{name: "only spaces", spec: "   "},
	{name: "most paths", spec: strings.Repeat("a,", MaxPaths-1) + "a", keys: repeatKeys([]string{"a"}, MaxPaths)},
	{name: "deepest path", spec: strings.Repeat("a.", MaxDepth-1) + "a", keys: [][]string{strings.Split(strings.Repeat("a.", MaxDepth-1)+"a", ".")}},
	{name: "longest spec", spec: strings.Repeat("a", MaxSpecLen), keys: [][]string{{strings.Repeat("a", MaxSpecLen)}}},

	{name: "empty key in the middle", spec: "a..b", err: ErrSyntax},
	{name: "leading dot", spec: ".a", err: ErrSyntax},
	{name: "trailing dot", spec: "a.", err: ErrSyntax},
	{name: "trailing dot and space", spec: "a. ", err: ErrSyntax},
	{name: "lone comma", spec: ",", err: ErrSyntax},
	{name: "trailing comma", spec: "a,", err: ErrSyntax},
	{name: "empty path between", spec: "a, ,b", err: ErrSyntax},
	{name: "trailing backslash", spec: `a\`, err: ErrSyntax},
	{name: "unknown escape", spec: `a\b`, err: ErrSyntax},
	{name: "escaped tab", spec: "a\\\t", err: ErrSyntax},
	{name: "invalid UTF-8", spec: "a\xffb", err: ErrSyntax},
	{name: "too many paths", spec: strings.Repeat("a,", MaxPaths) + "a", err: ErrLimit},
	{name: "too deep", spec: strings.Repeat("a.", MaxDepth) + "a", err: ErrLimit},
	{name: "too long", spec: strings.Repeat("a", MaxSpecLen+1), err: ErrLimit},
}

func repeatKeys(keys []string, n int) [][]string {
	out := make([][]string, n)
	for i := range out {
		out[i] = keys
	}
	return out
}

func keysOf(paths []Path) [][]string {
	var out [][]string
	for _, p := range paths {
		out = append(out, p.Keys())
	}
	return out
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			paths, err := Parse(c.spec)
			if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
				t.Fatalf("Parse(%q) error %v, want %v", c.spec, err, c.err)
			}
			if err != nil {
				if paths != nil {
					t.Errorf("Parse(%q) = %v with an error", c.spec, paths)
				}
				if !strings.HasPrefix(err.Error(), "jsonpath: path ") {
					t.Errorf("error %q does not name the path", err)
				}
				return
			}
			if got := keysOf(paths); !reflect.DeepEqual(got, c.keys) {
				t.Errorf("Parse(%q) = %q, want %q", c.spec, got, c.keys)
			}
			checkRoundTrip(t, c.spec, paths)
		})
	}
}

func TestPathString(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"passport.user", "passport.user"},
		{`a\.b.c\,d.e\\f`, `a\.b.c\,d.e\\f`},
		{`\ a b\ `, `\ a b\ `},
		{`a\ b`, `a b`},
		{`  x  `, `x`},
		{`\ `, `\ `},
		{`\ \ `, `\ \ `},
		{"a . b", "a . b"},
	} {
		paths, err := Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := paths[0].String(); got != c.want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.spec, got, c.want)
		}
	}
	if got := (Path{}).String(); got != "" {
		t.Errorf("zero Path's String() = %q", got)
	}
}

// checkRoundTrip checks that paths, written back with String and joined
// with commas, parse to the same keys.
func checkRoundTrip(t *testing.T, spec string, paths []Path) {
	t.Helper()
	var parts []string
	for _, p := range paths {
		parts = append(parts, p.String())
	}
	again, err := Parse(strings.Join(parts, ","))
	if err != nil {
		t.Fatalf("Parse(%q) gave %q, which does not parse: %v", spec, parts, err)
	}
	if !reflect.DeepEqual(keysOf(again), keysOf(paths)) {
		t.Fatalf("Parse(%q) = %q, written %q, parses to %q", spec, keysOf(paths), parts, keysOf(again))
	}
}
