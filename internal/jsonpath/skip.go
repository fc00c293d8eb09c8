package jsonpath

// What skip returns instead of an offset.
const (
	badJSON = -1 // the container is not valid JSON
	tooDeep = -2 // it nests deeper than the stack given holds
)

// skip validates the object or array that opens at value[i], nested in
// depth levels, and returns the offset just past its end; or badJSON, or
// tooDeep. It follows no path, so it keeps few variables, and the compiler
// keeps them in registers: it reads the bulk of most values. stack holds a
// bit per level of nesting, set for an object; obj is the bit of the
// innermost.
func skip(value []byte, i, depth int, stack []uint64) int {
	n := len(value)
	base := depth
	var obj bool

open: // at the '{' or '[' that opens a container
	depth++
	if depth > maxNesting {
		return badJSON
	}
	if w, bit := (depth-1)>>6, uint64(1)<<((depth-1)&63); w >= len(stack) {
		return tooDeep
	} else if obj = value[i] == '{'; obj {
		stack[w] |= bit
		i = skipSpace(value, i+1)
		if i < n && value[i] == '}' {
			i++
			goto closed
		}
		goto atKey
	} else {
		stack[w] &^= bit
	}
	i = skipSpace(value, i+1)
	if i < n && value[i] == ']' {
		i++
		goto closed
	}
	goto atValue

atKey: // at the '"' of a key, or what should be one
	if i >= n || value[i] != '"' {
		return badJSON
	}
	if i = plainEnd(value, i+1); i >= n || value[i] != '"' {
		if i, _ = scanString(value, i); i < 0 {
			return badJSON
		}
	}
	// JSON.stringify puts no space around the ':' or the ',': look for
	// those first, and for spaces only where they are not.
	if i+1 < n && value[i+1] == ':' {
		i += 2
	} else if i = skipSpace(value, i+1); i < n && value[i] == ':' {
		i++
	} else {
		return badJSON
	}

atValue: // at a value, or what should be one
	if i >= n {
		return badJSON
	}
	switch value[i] {
	case '{', '[':
		goto open
	case '"':
		if i = plainEnd(value, i+1); i >= n || value[i] != '"' {
			if i, _ = scanString(value, i); i < 0 {
				return badJSON
			}
		}
		i++
	case 't':
		if i+4 > n || string(value[i:i+4]) != "true" {
			return badJSON
		}
		i += 4
	case 'f':
		if i+5 > n || string(value[i:i+5]) != "false" {
			return badJSON
		}
		i += 5
	case 'n':
		if i+4 > n || string(value[i:i+4]) != "null" {
			return badJSON
		}
		i += 4
	case ' ', '\t', '\n', '\r':
		i = skipSpace(value, i)
		goto atValue
	default:
		// Most numbers in sessions are integers: read their digits here,
		// and leave the rest of the grammar to scanNumber.
		start := i
		for i++; i < n && isDigit(value[i]); i++ {
		}
		if c := value[start]; c < '1' || c > '9' || i < n && (value[i] == '.' || value[i] == 'e' || value[i] == 'E') {
			if i = scanNumber(value, start); i < 0 {
				return badJSON
			}
		}
	}

afterValue: // after a value in the container at depth
	if i >= n {
		return badJSON
	}
	switch value[i] {
	case ',':
		if i++; obj {
			if i < n && value[i] == '"' {
				goto atKey
			}
			i = skipSpace(value, i)
			goto atKey
		}
		goto atValue
	case '}':
		if !obj {
			return badJSON
		}
	case ']':
		if obj {
			return badJSON
		}
	case ' ', '\t', '\n', '\r':
		i = skipSpace(value, i)
		goto afterValue
	default:
		return badJSON
	}
	i++

closed: // just after the '}' or ']' that closed the container at depth
	if depth--; depth == base {
		return i
	}
	obj = stack[(depth-1)>>6]&(1<<((depth-1)&63)) != 0
	goto afterValue
}
