package mergepatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// The reference below reads both inputs with encoding/json into any and
// merges them with the RFC's pseudocode, word for word. It shares no code
// with Apply, so FuzzApply compares two independent readings of the RFC.

// refDecode decodes one JSON value with numbers kept as written.
func refDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

// refMerge is RFC 7396's MergePatch.
func refMerge(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for name, value := range p {
		if value == nil {
			delete(t, name)
		} else {
			t[name] = refMerge(t[name], value)
		}
	}
	return t
}

// refDepth is the deepest nesting of brackets in valid JSON.
func refDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// refOrder is the order of the names of an object, each once, at its
// first place, as decoded.
func refOrder(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for dec.More() {
		tok, _ := dec.Token()
		name := tok.(string)
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			panic(err)
		}
	}
	return names
}

// checkAgainstReference checks Apply's successful result got.
func checkAgainstReference(t *testing.T, target, patch, got []byte) {
	t.Helper()
	if !json.Valid(got) {
		t.Fatalf("result is not JSON: %q", got)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, got); err != nil || !bytes.Equal(compact.Bytes(), got) {
		t.Fatalf("result is not compact: %q", got)
	}
	var tv any
	if len(target) > 0 {
		var err error
		if tv, err = refDecode(target); err != nil {
			t.Fatalf("target: %v", err)
		}
	}
	pv, err := refDecode(patch)
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	want := refMerge(tv, pv)
	gv, err := refDecode(got)
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	if !reflect.DeepEqual(gv, want) {
		t.Fatalf("Apply(%q, %q)\n = %q\nwant (decoded) %#v", target, patch, got, want)
	}
	// Order: the target's names that stay, then the patch's new ones.
	pm, ok := pv.(map[string]any)
	if !ok {
		return
	}
	var order []string
	// refMerge merged into tv: decode the target afresh.
	var tm map[string]any
	if len(target) > 0 {
		tv, _ = refDecode(target)
		tm, _ = tv.(map[string]any)
	}
	if tm != nil {
		for _, name := range refOrder(target) {
			if v, ok := pm[name]; !ok || v != nil {
				order = append(order, name)
			}
		}
	}
	for _, name := range refOrder(patch) {
		if _, inTarget := tm[name]; !inTarget && pm[name] != nil {
			order = append(order, name)
		}
	}
	if gotOrder := refOrder(got); !reflect.DeepEqual(gotOrder, order) && len(order)+len(gotOrder) > 0 {
		t.Fatalf("Apply(%q, %q) = %q: names in order %q, want %q", target, patch, got, gotOrder, order)
	}
}

func FuzzApply(f *testing.F) {
	for _, group := range [][]applyCase{rfcCases, sessionCases, bytesCases} {
		for _, c := range group {
			f.Add([]byte(c.target), []byte(c.patch))
		}
	}
	f.Add([]byte(session), []byte(`{"cart":{"items":null,"n":[{"a":null}]},"passport":{"user":"u-7"}}`))
	f.Add([]byte(`{"a":{"b":{"c":1}},"a":{"b":2}}`), []byte(`{"a":{"b":{"d":null}}}`))
	f.Add([]byte(`[{"a":1}]`), []byte(`{"\ud800":1,"\ud800\udc00":2,"\u0000":null}`))
	f.Add([]byte(`{"k":1}`), []byte(`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"k":null,"a":null}`))
	f.Add([]byte(`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"a":0}`), []byte(`{"a":{"x":null},"i":null}`))
	f.Add([]byte(strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)), []byte(`{"a":`+strings.Repeat("[", MaxDepth)+`}`))
	f.Fuzz(func(t *testing.T, target, patch []byte) {
		tIn, pIn := bytes.Clone(target), bytes.Clone(patch)
		got, err := Apply(target, patch)
		if !bytes.Equal(target, tIn) || !bytes.Equal(patch, pIn) {
			t.Fatal("Apply changed its inputs")
		}
		patchOK := json.Valid(patch) && refDepth(patch) <= MaxDepth
		targetOK := len(target) == 0 || json.Valid(target) && refDepth(target) <= MaxDepth
		switch {
		case !patchOK:
			if !errors.Is(err, ErrPatch) {
				t.Fatalf("Apply(%q, %q) = %q, %v; want an error wrapping ErrPatch", target, patch, got, err)
			}
			return
		case !targetOK:
			if !errors.Is(err, ErrTarget) {
				t.Fatalf("Apply(%q, %q) = %q, %v; want an error wrapping ErrTarget", target, patch, got, err)
			}
			return
		case err != nil:
			t.Fatalf("Apply(%q, %q): %v", target, patch, err)
		}
		checkAgainstReference(t, target, patch, got)
		// A merge patch is idempotent: applying it again changes nothing.
		again, err := Apply(got, patch)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("Apply(%q, %q) = %q, applied again %q, %v", target, patch, got, again, err)
		}
	})
}
