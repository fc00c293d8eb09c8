package mergepatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type applyCase struct {
	name, target, patch, want string
}

// rfcCases are every example of RFC 7396 (RFC 7386 with its erratum):
// Appendix A, then sections 1 and 3. Results are written in the order
// this package keeps, which the RFC's tables happen to follow too.
var rfcCases = []applyCase{
	{"A.1 replace a member", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
	{"A.2 add a member", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
	{"A.3 delete the only member", `{"a":"b"}`, `{"a":null}`, `{}`},
	{"A.4 delete one member", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
	{"A.5 array replaced by a string", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
	{"A.6 string replaced by an array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
	{"A.7 nested merge", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
	{"A.8 arrays are not merged", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
	{"A.9 array replaced by an array", `["a","b"]`, `["c","d"]`, `["c","d"]`},
	{"A.10 object replaced by an array", `{"a":"b"}`, `["c"]`, `["c"]`},
	{"A.11 object replaced by null", `{"a":"foo"}`, `null`, `null`},
	{"A.12 object replaced by a string", `{"a":"foo"}`, `"bar"`, `"bar"`},
	{"A.13 a null in the target stays", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
	{"A.14 a non-object target becomes {}", `[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
	{"A.15 nulls of a new object are dropped", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	{"section 1",
		`{"a": "b", "c": {"d": "e", "f": "g"}}`,
		`{"a": "z", "c": {"f": null}}`,
		`{"a":"z","c":{"d":"e"}}`},
	{"section 3",
		`{"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
		  "tags": ["example", "sample"], "content": "This will be unchanged"}`,
		`{"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": null},
		  "tags": ["example"]}`,
		`{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],` +
			`"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`},
}

// A session as express-session writes it with passport logged in.
const session = `{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-07T06:00:00.000Z",` +
	`"secure":true,"httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":"u-1042"},` +
	`"cart":{"items":[{"sku":"A-1","qty":1}],"total":12.5,"currency":"EUR"},"theme":"dark"}`

var sessionCases = []applyCase{
	{"a cart field updated, passport untouched", session,
		`{"cart":{"total":25,"items":[{"sku":"A-1","qty":2}]}}`,
		strings.Replace(session, `"cart":{"items":[{"sku":"A-1","qty":1}],"total":12.5,`,
			`"cart":{"items":[{"sku":"A-1","qty":2}],"total":25,`, 1)},
	{"a field deleted with null", session, `{"theme":null}`,
		strings.Replace(session, `,"theme":"dark"`, ``, 1)},
	{"a nested object replaced by a scalar", session, `{"cart":0}`,
		`{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-07T06:00:00.000Z",` +
			`"secure":true,"httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":"u-1042"},` +
			`"cart":0,"theme":"dark"}`},
	{"a scalar replaced by an object", `{"cart":0}`, `{"cart":{"n":1,"gone":null}}`, `{"cart":{"n":1}}`},
	{"logout deletes passport's user", session, `{"passport":{"user":null}}`,
		strings.Replace(session, `"passport":{"user":"u-1042"}`, `"passport":{}`, 1)},
	{"a new field is appended", session, `{"flash":{"info":["saved"]}}`,
		strings.TrimSuffix(session, `}`) + `,"flash":{"info":["saved"]}}`},
	{"an empty patch object changes nothing", session, `{}`, session},
	{"an empty target is no value", ``, `{"cart":{"n":1,"x":null},"y":null}`, `{"cart":{"n":1}}`},
	{"an empty target replaced by a scalar", ``, `"s"`, `"s"`},
	{"an empty target and a null patch", ``, `null`, `null`},
	{"a scalar target becomes an object", `"not an object"`, `{"a":1}`, `{"a":1}`},
	{"a null target becomes an object", `null`, `{"a":1}`, `{"a":1}`},
}

// bytesCases check what the result copies byte for byte and where it
// puts members.
var bytesCases = []applyCase{
	{"numbers and strings survive as written",
		`{"big":12345678901234567890,"huge":1e400,"s":"\u00e9","f":-0.10E+02,"x":1}`,
		`{"x":2}`,
		`{"big":12345678901234567890,"huge":1e400,"s":"\u00e9","f":-0.10E+02,"x":2}`},
	{"patch values survive as written", `{}`, `{"n":1e400,"s":"caf\u00e9 \ud83d\ude00","r":[1.50,{"z":null}]}`,
		`{"n":1e400,"s":"caf\u00e9 \ud83d\ude00","r":[1.50,{"z":null}]}`},
	{"whitespace goes, inside strings stays",
		" {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\" : { \"c\" : \" x y \" } } ",
		" { \"d\" : { \"e\" : [ true , false ] } } ",
		`{"a":[1,2],"b":{"c":" x y "},"d":{"e":[true,false]}}`},
	{"member order: target's, then new in patch order",
		`{"z":1,"y":2,"x":3}`, `{"b":1,"y":null,"a":2,"z":0}`, `{"z":0,"x":3,"b":1,"a":2}`},
	{"duplicate target names: first place, last value",
		`{"a":1,"b":2,"a":3}`, `{"c":4}`, `{"a":3,"b":2,"c":4}`},
	{"duplicate target names all deleted", `{"a":1,"b":2,"a":3}`, `{"a":null}`, `{"b":2}`},
	{"duplicate patch names: the last wins", `{"a":1}`, `{"a":null,"a":5}`, `{"a":5}`},
	{"duplicate patch names: a last null deletes", `{"a":1,"b":1}`, `{"a":5,"a":null}`, `{"b":1}`},
	{"duplicate patch objects are not merged together", `{}`, `{"a":{"x":1},"a":{"y":2}}`, `{"a":{"y":2}}`},
	{"a new duplicated name: first place, last value", `{}`, `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
	{"escaped names are the same member", `{"a":1,"\u0062":2}`, `{"\u0061":null,"b":3}`, `{"\u0062":3}`},
	{"surrogate pair names", `{"\ud83d\ude00":1}`, `{"😀":2}`, `{"\ud83d\ude00":2}`},
	{"names compare as encoding/json decodes them: bad UTF-8 is U+FFFD",
		"{\"\xff\":1}", "{\"\xfe\":2,\"\\ud800\":3}", "{\"\xff\":3}"},
	{"untouched objects are copied as written", `{"a":{"k":1,"k":2},"b":1}`, `{"b":2}`, `{"a":{"k":1,"k":2},"b":2}`},
}

func TestApply(t *testing.T) {
	for _, group := range []struct {
		name  string
		cases []applyCase
	}{{"RFC 7396", rfcCases}, {"sessions", sessionCases}, {"bytes", bytesCases}} {
		t.Run(group.name, func(t *testing.T) {
			for _, c := range group.cases {
				t.Run(c.name, func(t *testing.T) {
					target, patch := []byte(c.target), []byte(c.patch)
					got, err := Apply(target, patch)
					if err != nil {
						t.Fatalf("Apply(%s, %s): %v", c.target, c.patch, err)
					}
					if string(got) != c.want {
						t.Fatalf("Apply(%s, %s)\n got %s\nwant %s", c.target, c.patch, got, c.want)
					}
					if string(target) != c.target || string(patch) != c.patch {
						t.Fatal("Apply changed its inputs")
					}
					// A merge patch is idempotent.
					again, err := Apply(got, patch)
					if err != nil || !bytes.Equal(again, got) {
						t.Fatalf("applied twice: %s, %v; once: %s", again, err, got)
					}
					// The appending form appends the same.
					prefix := []byte("prefix")
					app, err := AppendApply(prefix, target, patch)
					if err != nil || string(app) != "prefix"+c.want {
						t.Fatalf("AppendApply: %q, %v", app, err)
					}
				})
			}
		})
	}
}

func TestApplyInvalid(t *testing.T) {
	for _, c := range []struct {
		name, target, patch string
		want                error
		msg                 string
	}{
		{"empty patch", `{}`, ``, ErrPatch, "patch: unexpected end of input at byte 0"},
		{"blank patch", `{}`, " \n", ErrPatch, "patch: unexpected end of input at byte 2"},
		{"truncated patch", `{}`, `{"a":1`, ErrPatch, "patch: unexpected end of input at byte 6"},
		{"missing colon", `{}`, `{"a" 1}`, ErrPatch, "patch: invalid character '1' after object key at byte 5"},
		{"trailing comma", `{}`, `{"a":1,}`, ErrPatch,
			"patch: invalid character '}' looking for beginning of object key string at byte 7"},
		{"trailing comma in an array", `{}`, `{"a":[1,]}`, ErrPatch,
			"patch: invalid character ']' looking for beginning of value at byte 8"},
		{"two values", `{}`, `{} {}`, ErrPatch, "patch: invalid character '{' after top-level value at byte 3"},
		{"single quotes", `{}`, `{'a':1}`, ErrPatch,
			`patch: invalid character '\'' looking for beginning of object key string at byte 1`},
		{"bad literal", `{}`, `{"a":nul}`, ErrPatch,
			"patch: invalid character '}' in literal null (expecting 'l') at byte 8"},
		{"leading zero", `{}`, `{"a":01}`, ErrPatch,
			"patch: invalid character '1' after object key:value pair at byte 6"},
		{"bare decimal point", `{}`, `[1.]`, ErrPatch,
			"patch: invalid character ']' in numeric literal after decimal point at byte 3"},
		{"bad exponent", `{}`, `1e+`, ErrPatch, "patch: unexpected end of input at byte 3"},
		{"bad escape", `{}`, `"\x"`, ErrPatch, "patch: invalid character 'x' in string escape code at byte 2"},
		{"bad unicode escape", `{}`, `"\u12g4"`, ErrPatch,
			"patch: invalid character 'g' in \\u hexadecimal character escape at byte 5"},
		{"control character", `{}`, "\"a\x01\"", ErrPatch,
			"patch: invalid character byte 0x01 in string literal at byte 2"},
		{"array element separator", `{}`, `[1 2]`, ErrPatch,
			"patch: invalid character '2' after array element at byte 3"},
		{"NaN", `{}`, `NaN`, ErrPatch, "patch: invalid character 'N' looking for beginning of value at byte 0"},
		{"byte order mark", `{}`, "\xef\xbb\xbf{}", ErrPatch,
			"patch: invalid character byte 0xef looking for beginning of value at byte 0"},
		{"corrupt target", `{"a":`, `{"b":1}`, ErrTarget, "target: unexpected end of input at byte 5"},
		{"corrupt target, replacing patch", `gob\x00`, `"x"`, ErrTarget,
			"target: invalid character 'g' looking for beginning of value at byte 0"},
		{"blank target is not empty", ` `, `{}`, ErrTarget, "target: unexpected end of input at byte 1"},
		{"both bad: the patch is reported", `{`, `}`, ErrPatch,
			"patch: invalid character '}' looking for beginning of value at byte 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if json.Valid([]byte(c.patch)) && (c.target == "" || json.Valid([]byte(c.target))) {
				t.Fatal("the case is valid JSON for encoding/json")
			}
			dst := []byte("kept")
			got, err := AppendApply(dst, []byte(c.target), []byte(c.patch))
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want one wrapping %v", err, c.want)
			}
			if err.Error() != c.msg {
				t.Fatalf("error %q\n      want %q", err, c.msg)
			}
			if string(got) != "kept" {
				t.Fatalf("dst changed on error: %q", got)
			}
			if res, err := Apply([]byte(c.target), []byte(c.patch)); res != nil || err == nil {
				t.Fatalf("Apply returned %q, %v", res, err)
			}
		})
	}
}

func TestApplyDepth(t *testing.T) {
	nest := func(depth int, open, close, inner string) string {
		return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
	}
	deepObj := func(depth int) string { return nest(depth, `{"a":`, `}`, `1`) }
	for _, c := range []struct {
		name, target, patch string
		want                error
	}{
		{"patch at the limit", `{}`, deepObj(MaxDepth), nil},
		{"target at the limit", deepObj(MaxDepth), deepObj(MaxDepth), nil},
		{"patch past the limit", `{}`, deepObj(MaxDepth + 1), ErrPatch},
		{"patch arrays past the limit", `{}`, nest(MaxDepth+1, `[`, `]`, ``), ErrPatch},
		{"target past the limit", deepObj(MaxDepth + 1), `{"b":1}`, ErrTarget},
		{"a 100,000-deep patch", `{}`, deepObj(100000), ErrPatch},
		{"a 100,000-deep unclosed patch", `{}`, strings.Repeat(`[{"a":`, 50000), ErrPatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Apply([]byte(c.target), []byte(c.patch))
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !json.Valid(got) {
					t.Fatalf("result is not JSON")
				}
				return
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "nesting deeper than 512 levels at byte ") {
				t.Fatalf("error %v, want the depth limit in the %v", err, c.want)
			}
		})
	}
}

// TestApplyLarge merges objects of many members both ways round: the
// hash table's path, including names that need decoding and duplicates.
func TestApplyLarge(t *testing.T) {
	const n = 20000
	var target, patch, want bytes.Buffer
	target.WriteString("{")
	patch.WriteString("{")
	want.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			target.WriteString(",")
			patch.WriteString(",")
		}
		// Target: k0..k{n-1}. Patch: every third deleted, every third
		// replaced (named with an escape), and a new name per member.
		target.WriteString(`"k` + itoa(i) + `":` + itoa(i))
		switch i % 3 {
		case 0:
			patch.WriteString(`"k` + itoa(i) + `":null`)
		case 1:
			patch.WriteString(`"\u006b` + itoa(i) + `":"r"`)
		default:
			patch.WriteString(`"new` + itoa(i) + `":` + itoa(i))
		}
	}
	target.WriteString(`,"k2":"dup"}`) // a duplicate: first place, last value
	patch.WriteString("}")
	sep := ""
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 1:
			want.WriteString(sep + `"k` + itoa(i) + `":"r"`)
		case 2:
			v := itoa(i)
			if i == 2 {
				v = `"dup"`
			}
			want.WriteString(sep + `"k` + itoa(i) + `":` + v)
		default:
			continue
		}
		sep = ","
	}
	for i := 2; i < n; i += 3 {
		want.WriteString(`,"new` + itoa(i) + `":` + itoa(i))
	}
	want.WriteString("}")
	got, err := Apply(target.Bytes(), patch.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("large merge differs (got %d bytes, want %d)", len(got), want.Len())
	}
	// The other way round: a small target into a large patch.
	got, err = Apply([]byte(`{"k0":1,"new2":"x"}`), patch.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstReference(t, []byte(`{"k0":1,"new2":"x"}`), patch.Bytes(), got)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestMergesCompose checks the package doc's promise for two requests of
// one session, merged one after the other under the session's lock: each
// keeps the other's change to another field, in either order, and of two
// changes to one field the later stays.
func TestMergesCompose(t *testing.T) {
	cart := []byte(`{"cart":{"items":["A-1","B-2"]}}`)
	theme := []byte(`{"prefs":{"theme":"light"},"flash":null}`)
	want := `{"cookie":{"path":"/"},"passport":{"user":"u-1"},"prefs":{"theme":"light","lang":"fr"},` +
		`"cart":{"items":["A-1","B-2"]}}`
	start := []byte(`{"cookie":{"path":"/"},"passport":{"user":"u-1"},"prefs":{"theme":"dark","lang":"fr"},"flash":"hi"}`)
	for _, order := range [][2][]byte{{cart, theme}, {theme, cart}} {
		v, err := Apply(start, order[0])
		if err == nil {
			v, err = Apply(v, order[1])
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(v) != want {
			t.Fatalf("%s then %s:\n got %s\nwant %s", order[0], order[1], v, want)
		}
	}
	v, _ := Apply(start, []byte(`{"prefs":{"theme":"blue"}}`))
	v, _ = Apply(v, []byte(`{"prefs":{"theme":"green"}}`))
	if !bytes.Contains(v, []byte(`"theme":"green"`)) || bytes.Contains(v, []byte("blue")) {
		t.Fatalf("the same field twice: %s, want the later value", v)
	}
}
