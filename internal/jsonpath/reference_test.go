package jsonpath

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// reference answers Lookup's question with encoding/json, literally as the
// package documentation's Go code reads the whole value: the tests hold
// Lookup to it but where the rules depart from it (checkLookup).
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

// ruleReference answers Lookup's question by the package documentation's
// rules, which depart from encoding/json's reading by stopping at the id of
// the first path: it reads value with encoding/json's Decoder, token by
// token, and notes the first string or number each path leads to. As soon
// as the first path with keys has one, followed by ',' or '}', that is the
// answer, and stop is the offset just after the id. Otherwise the answer
// comes at the end of a valid value: the first path in the list that found
// one, and stop is -1.
func ruleReference(value []byte, paths []Path) (id []byte, ok bool, stop int) {
	best := slices.IndexFunc(paths, func(p Path) bool { return len(p.Keys()) > 0 })
	i := skipJSONSpace(value, 0)
	if best < 0 || i == len(value) || value[i] != '{' {
		return nil, false, -1
	}
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
			return nil, false, -1
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].wantKey {
			if k, isKey := tok.(string); isKey {
				stack[top].key, stack[top].wantKey = k, false
				continue
			}
		}
		var (
			text   []byte
			scalar bool
		)
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				stack = append(stack, frame{object: tok == '{', wantKey: tok == '{'})
				if len(stack) > maxNesting {
					return nil, false, -1
				}
				continue
			}
			if stack = stack[:top]; len(stack) == 0 {
				if skipJSONSpace(value, int(d.InputOffset())) != len(value) {
					return nil, false, -1
				}
				if j := slices.Index(has, true); j >= 0 {
					return found[j], true, -1
				}
				return nil, false, -1
			}
		case string:
			text, scalar = []byte(tok), true
		case json.Number:
			text, scalar = []byte(tok), true
		}
		if scalar {
			for j, p := range paths {
				if !has[j] && len(p.Keys()) > 0 && onPath(p.Keys(), stack, func(f frame) (string, bool) { return f.key, f.object }) {
					found[j], has[j] = text, true
				}
			}
			if has[best] {
				end := int(d.InputOffset())
				if k := skipJSONSpace(value, end); k < len(value) && (value[k] == ',' || value[k] == '}') {
					return found[best], true, end
				}
				return nil, false, -1
			}
		}
		// A value of the innermost container was read.
		if top = len(stack) - 1; stack[top].object {
			stack[top].wantKey = true
		}
	}
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
// only values on which the rules and encoding/json may differ, but for
// bytes after the id.
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
		if top = len(stack) - 1; stack[top].object {
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
// rules (ruleReference), and to encoding/json's (reference) wherever the
// rules do not depart from it. Where they differ it proves that the
// departure explains the difference: the value is valid and has a key
// twice along a path, or it is invalid only after the id, which is then
// the one encoding/json reads in the value cut just after the id and
// closed.
func checkLookup(value []byte, paths []Path, id []byte, ok bool) error {
	rid, rok, stop := ruleReference(value, paths)
	if ok != rok || !bytes.Equal(id, rid) {
		return fmt.Errorf("Lookup = %q, %v; the rules say %q, %v", id, ok, rid, rok)
	}
	return explained(value, paths, id, ok, stop)
}

// explained holds an answer id, ok for value and paths to encoding/json's,
// unless the rules' departure from it explains the difference: stop is
// where the answer says Lookup stopped reading, just after the id, or -1.
func explained(value []byte, paths []Path, id []byte, ok bool, stop int) error {
	want, wantOK := reference(value, paths)
	if ok == wantOK && bytes.Equal(id, want) {
		return nil
	}
	differ := fmt.Sprintf("Lookup = %q, %v; encoding/json says %q, %v", id, ok, want, wantOK)
	if json.Valid(value) {
		if !dupOnPath(value, paths) {
			return fmt.Errorf("%s, for a valid value without a duplicate key along the paths", differ)
		}
		return nil
	}
	if !ok || stop < 0 {
		return fmt.Errorf("%s, for an invalid value, and Lookup did not stop at the id", differ)
	}
	best := slices.IndexFunc(paths, func(p Path) bool { return len(p.Keys()) > 0 })
	closed := append(bytes.Clone(value[:stop]), strings.Repeat("}", len(paths[best].Keys()))...)
	if !json.Valid(closed) {
		return fmt.Errorf("%s, and the value up to the id, closed, is not valid: %q", differ, closed)
	}
	if cid, cok := reference(closed, paths); (!cok || !bytes.Equal(cid, id)) && !dupOnPath(closed, paths) {
		return fmt.Errorf("%s, and %q, %v in the value up to the id, closed: %q", differ, cid, cok, closed)
	}
	return nil
}
