package jsonpath

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// reference answers Lookup's question with encoding/json, literally as the
// package documentation's Go code reads the whole value: the tests hold
// Lookup to it for every value that encoding/json accepts and that has no
// key twice along a path (checkLookup).
func reference(value []byte, paths []Path) ([]byte, bool) {
	if !json.Valid(value) {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(value))
	d.UseNumber()
	var top any
	if err := d.Decode(&top); err != nil {
		return nil, false
	}
	for _, p := range paths {
		v := top
		for _, k := range p.Keys() {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			if v, ok = m[k]; !ok {
				break
			}
		}
		switch v := v.(type) {
		case string:
			return []byte(v), true
		case json.Number:
			return []byte(v), true
		}
	}
	return nil, false
}

// ruleReference answers Lookup's question for a value that encoding/json
// accepts, reading a key that occurs twice along a path as the rules do: it
// reads value with encoding/json's Decoder, token by token, notes the first
// string or number each path leads to, and answers for the first path in
// the list that found one. For a value without such a key it answers as
// reference does.
func ruleReference(value []byte, paths []Path) ([]byte, bool) {
	// A frame is an open object or array: for an object, the key whose
	// value is read, and whether a key comes next.
	type frame struct {
		object, wantKey bool
		key             string
	}
	var (
		stack []frame
		found = make([][]byte, len(paths))
		has   = make([]bool, len(paths))
	)
	d := json.NewDecoder(bytes.NewReader(value))
	d.UseNumber()
	for {
		tok, err := d.Token()
		if err != nil {
			break // io.EOF, at the end of the value
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].wantKey {
			if k, isKey := tok.(string); isKey {
				stack[top].key, stack[top].wantKey = k, false
				continue
			}
		}
		var text []byte
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				stack = append(stack, frame{object: tok == '{', wantKey: tok == '{'})
				continue
			}
			stack = stack[:top]
		case string:
			text = []byte(tok)
		case json.Number:
			text = []byte(tok)
		}
		if text != nil {
			for j, p := range paths {
				if !has[j] && len(p.Keys()) > 0 && onPath(p.Keys(), stack, func(f frame) (string, bool) { return f.key, f.object }) {
					found[j], has[j] = text, true
				}
			}
		}
		// A value of the innermost container, if any, was read.
		if top = len(stack) - 1; top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
	if j := slices.Index(has, true); j >= 0 {
		return found[j], true
	}
	return nil, false
}

// onPath reports whether the open containers in stack, outermost first,
// are all objects, each read at the key of keys at its index: whether a
// value read there is at the path keys.
func onPath[F any](keys []string, stack []F, key func(F) (string, bool)) bool {
	if len(stack) != len(keys) {
		return false
	}
	for i, f := range stack {
		if k, object := key(f); !object || k != keys[i] {
			return false
		}
	}
	return true
}

// dupOnPath reports whether value, which encoding/json accepts, has an
// object in which a key that leads along one of paths occurs twice: the
// only values encoding/json accepts on which the rules and encoding/json
// may differ.
func dupOnPath(value []byte, paths []Path) bool {
	type frame struct {
		object, wantKey bool
		key             string
		seen            map[string]bool
	}
	var stack []frame
	d := json.NewDecoder(bytes.NewReader(value))
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].wantKey {
			if k, isKey := tok.(string); isKey {
				f := &stack[top]
				f.key, f.wantKey = k, false
				if f.seen[k] {
					for _, p := range paths {
						if len(p.Keys()) >= len(stack) && onPath(p.Keys()[:len(stack)], stack, func(f frame) (string, bool) { return f.key, f.object }) {
							return true
						}
					}
				}
				f.seen[k] = true
				continue
			}
		}
		if tok, isDelim := tok.(json.Delim); isDelim {
			if tok == '{' || tok == '[' {
				stack = append(stack, frame{object: tok == '{', wantKey: tok == '{', seen: map[string]bool{}})
				continue
			}
			if stack = stack[:top]; len(stack) == 0 {
				return false
			}
		}
		if top = len(stack) - 1; top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
}

// skipJSONSpace returns the offset of the first byte at or after i that is
// not JSON whitespace, written apart from the package's skipSpace so that
// the references do not share Lookup's code.
func skipJSONSpace(value []byte, i int) int {
	for i < len(value) && strings.IndexByte(" \t\r\n", value[i]) >= 0 {
		i++
	}
	return i
}

// checkLookup holds Lookup's answer for value and paths, id and ok, to the
// rules. For a value that encoding/json accepts, the answer must be
// encoding/json's (reference) if no key occurs twice along a path, and the
// one the rules read duplicates to (ruleReference) if one does. For any
// value it must be one the rules allow whatever the value (allowed).
func checkLookup(value []byte, paths []Path, id []byte, ok bool) error {
	if err := allowed(value, id, ok); err != nil {
		return fmt.Errorf("Lookup = %q, %v: %v", id, ok, err)
	}
	if !json.Valid(value) {
		return nil
	}
	want, by := reference, "encoding/json"
	if dupOnPath(value, paths) {
		want, by = ruleReference, "the rules, for a key twice along a path,"
	}
	if rid, rok := want(value, paths); ok != rok || !bytes.Equal(id, rid) {
		return fmt.Errorf("Lookup = %q, %v; %s says %q, %v", id, ok, by, rid, rok)
	}
	return nil
}

// allowed checks an answer against what the rules promise for any value,
// valid or not: no id if the first byte that is not a space is not '{',
// and otherwise none, or the text of a number in value, or the contents of
// a string in value as encoding/json decodes them. Lookup finds no more
// than that in a value whose syntax is wrong where it does not look.
func allowed(value []byte, id []byte, ok bool) error {
	if !ok {
		if id != nil {
			return errors.New("an id with ok false")
		}
		return nil
	}
	if i := skipJSONSpace(value, 0); i == len(value) || value[i] != '{' {
		return errors.New("an id in a value that does not start with '{'")
	}
	// The quick ways first: a string that stands in value as it decodes,
	// or a number.
	plain := utf8.Valid(id) && !bytes.ContainsFunc(id, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 })
	if plain && bytes.Contains(value, slices.Concat([]byte{'"'}, id, []byte{'"'})) {
		return nil
	}
	if jsonNumber.Find(id) != nil && len(jsonNumber.Find(id)) == len(id) {
		for k := 0; ; {
			j := bytes.Index(value[k:], id)
			if j < 0 {
				break
			}
			k += j
			if (k == 0 || !isNumberByte(value[k-1])) && (k+len(id) == len(value) || !isNumberByte(value[k+len(id)])) {
				return nil
			}
			k++
		}
	}
	for k := range value {
		if value[k] == '"' {
			var s string
			if json.NewDecoder(bytes.NewReader(value[k:])).Decode(&s) == nil && s == string(id) {
				return nil
			}
		} else if k == 0 || !isNumberByte(value[k-1]) {
			if num := jsonNumber.Find(value[k:]); num != nil && bytes.Equal(num, id) &&
				(k+len(num) == len(value) || !isNumberByte(value[k+len(num)])) {
				return nil
			}
		}
	}
	return errors.New("the id is neither a number in the value nor a string in it, decoded")
}

// jsonNumber matches a JSON number at the start of a text, as long as it runs.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`)

// isNumberByte reports whether c may be part of a JSON number's text.
func isNumberByte(c byte) bool { return strings.IndexByte("0123456789+-.eE", c) >= 0 }
