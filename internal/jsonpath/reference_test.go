package jsonpath

import (
	"bytes"
	"encoding/json"
)

// reference answers Lookup's question with encoding/json, literally as the
// package documentation states the rules: the tests hold Lookup to it.
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
