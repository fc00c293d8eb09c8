package jsonpath

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on a spec. They bound the work Lookup does per key it reads, and the
// memory Parse takes, whatever an operator writes.
const (
	// MaxSpecLen is the most bytes a spec may hold.
	MaxSpecLen = 1024
	// MaxPaths is the most paths a spec may list, and Lookup may be given.
	MaxPaths = 16
	// MaxDepth is the most keys one path may have.
	MaxDepth = 16
)

// Errors from Parse, wrapped with the spec and what is wrong with it.
var (
	// ErrSyntax means the spec is not a list of paths: an empty key, a
	// backslash before something other than '.', ',', '\' or ' ', or
	// invalid UTF-8.
	ErrSyntax = errors.New("invalid path syntax")
	// ErrLimit means the spec exceeds MaxSpecLen, MaxPaths or MaxDepth.
	ErrLimit = errors.New("path limit exceeded")
)

// A Path is a list of object keys leading from the top of a JSON value to
// one field in it. The zero Path has no keys and never yields an id, since
// the top of a value with an id is an object.
type Path struct {
	keys []string
	// last is the last key and its closing quote, as they must appear in a
	// value without a backslash, or nil if the key cannot be written without
	// escapes or might come from invalid UTF-8 (it holds U+FFFD).
	last []byte
	// fffd has bit k set if key k holds U+FFFD, which a key in a value may
	// decode to from invalid UTF-8: a key without it and without escapes
	// matches only if its bytes are the key's.
	fffd uint16
}

// newPath returns the Path of keys.
func newPath(keys []string) Path {
	p := Path{keys: keys}
	for i, k := range keys {
		if strings.ContainsRune(k, utf8.RuneError) {
			p.fffd |= 1 << i
		}
	}
	k := keys[len(keys)-1]
	if !strings.ContainsRune(k, utf8.RuneError) && !strings.ContainsFunc(k, func(r rune) bool {
		return r < 0x20 || r == '"' || r == '\\'
	}) {
		p.last = []byte(k + `"`)
	}
	return p
}

// Keys returns the keys of the path, outermost first. The caller must not
// modify the slice.
func (p Path) Keys() []string { return p.keys }

// String returns the path as Parse reads it: keys joined with '.', with
// '.', ',' and '\' escaped, and with a space escaped where Parse would
// otherwise trim it.
func (p Path) String() string {
	var b strings.Builder
	for i, k := range p.keys {
		if i > 0 {
			b.WriteByte('.')
		}
		for j := 0; j < len(k); j++ {
			c := k[j]
			switch {
			case c == '.', c == ',', c == '\\':
				b.WriteByte('\\')
			case c == ' ' && (i == 0 && j == 0 || i == len(p.keys)-1 && j == len(k)-1):
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Parse reads a spec, a comma-separated list of dotted paths such as
// "passport.user" (the package documentation gives the syntax), into the
// paths Lookup takes. The error wraps ErrSyntax or ErrLimit.
func Parse(spec string) ([]Path, error) {
	wrap := func(err error, why string) error {
		return fmt.Errorf("jsonpath: path %q: %s: %w", spec, why, err)
	}
	fail := func(err error, why string) ([]Path, error) {
		return nil, wrap(err, why)
	}
	if len(spec) > MaxSpecLen {
		return fail(ErrLimit, fmt.Sprintf("longer than %d bytes", MaxSpecLen))
	}
	if !utf8.ValidString(spec) {
		return fail(ErrSyntax, "invalid UTF-8")
	}
	if strings.Trim(spec, " ") == "" {
		return nil, nil
	}
	var (
		paths []Path
		keys  []string
		key   []byte
		solid int    // len(key) up to its last byte that is not an unescaped space
		start = true // no byte of the current path read yet, but spaces
	)
	// endKey ends the key before byte i, trimming trailing spaces if it
	// ends the path.
	endKey := func(i int, trim bool) error {
		if trim {
			key = key[:solid]
		}
		if len(key) == 0 {
			return wrap(ErrSyntax, fmt.Sprintf("empty key before byte %d", i))
		}
		if len(keys) == MaxDepth {
			return wrap(ErrLimit, fmt.Sprintf("more than %d keys in a path", MaxDepth))
		}
		keys = append(keys, string(key))
		key, solid = key[:0], 0
		return nil
	}
	for i := 0; i <= len(spec); i++ {
		if i == len(spec) || spec[i] == ',' {
			if err := endKey(i, true); err != nil {
				return nil, err
			}
			if len(paths) == MaxPaths {
				return fail(ErrLimit, fmt.Sprintf("more than %d paths", MaxPaths))
			}
			paths = append(paths, newPath(keys))
			keys, start = nil, true
			continue
		}
		c := spec[i]
		switch {
		case c == ' ' && start:
			continue
		case c == '.':
			if err := endKey(i, false); err != nil {
				return nil, err
			}
		case c == '\\':
			if i+1 == len(spec) || !strings.ContainsRune(`.,\ `, rune(spec[i+1])) {
				return fail(ErrSyntax, fmt.Sprintf(`byte %d: '\' not before '.', ',', '\' or ' '`, i))
			}
			i++
			key = append(key, spec[i])
			solid = len(key)
		default:
			key = append(key, c)
			if c != ' ' {
				solid = len(key)
			}
		}
		start = false
	}
	return paths, nil
}
