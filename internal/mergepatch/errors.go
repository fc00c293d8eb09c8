package mergepatch

import (
	"errors"
	"fmt"
)

// Errors that Apply's errors wrap: errors.Is tells the caller whose input
// was at fault. A server answers ErrPatch as a client error, and ErrTarget
// as the stored session not being JSON (as Redis answers WRONGTYPE).
var (
	// ErrPatch is a patch that is not JSON, or nests deeper than MaxDepth.
	ErrPatch = errors.New("invalid merge patch")
	// ErrTarget is a non-empty target that is not JSON, or nests deeper
	// than MaxDepth.
	ErrTarget = errors.New("target is not JSON")
)

// Error says what is wrong with one input, and where.
type Error struct {
	// Input is "patch" or "target".
	Input string
	// Offset is the byte offset in that input where the problem was found.
	Offset int
	// Msg says what the problem is, as encoding/json would word it.
	Msg string
}

// Error returns, for example, "patch: invalid character '}' after object
// key at byte 7".
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s at byte %d", e.Input, e.Msg, e.Offset)
}

// Unwrap returns ErrPatch or ErrTarget.
func (e *Error) Unwrap() error {
	if e.Input == inputTarget {
		return ErrTarget
	}
	return ErrPatch
}

const (
	inputPatch  = "patch"
	inputTarget = "target"
)

// quoteChar quotes a byte for an error message: 'x' for a printable ASCII
// byte, otherwise its value in hex, since a lone byte of a multi-byte
// character is not a character.
func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c >= 0x20 && c < 0x7f:
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
