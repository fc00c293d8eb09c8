package jsonpath

// skip validates the object or array that opens at value[i], nested in
// depth levels, and returns the offset just past its end; or -invalid if it
// is not valid JSON, or -overflow if it nests deeper than stack holds. It
// follows no path, so it keeps few variables, and the compiler keeps them
// in registers: it reads the bulk of most values. stack holds a bit per
// level of nesting, set for an object; obj is the bit of the innermost.
func skip(value []byte, i, depth int, stack []uint64) int {
	n := len(value)
	base := depth
	var obj bool

open: // at the '{' or '[' that opens a container
	depth++
	if depth > maxNesting {
		return -int(invalid)
	}
	if w, bit := (depth-1)>>6, uint64(1)<<((depth-1)&63); w >= len(stack) {
		return -int(overflow)
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
		return -int(invalid)
	}
	if i = plainEnd(value, i+1); i >= n || value[i] != '"' {
		if i, _ = scanString(value, i); i < 0 {
			return -int(invalid)
		}
	}
	// JSON.stringify puts no space around the ':' or the ',': look for
	// those first, and for spaces only where they are not.
	if i+1 < n && value[i+1] == ':' {
		i += 2
	} else if i = skipSpace(value, i+1); i < n && value[i] == ':' {
		i++
	} else {
		return -int(invalid)
	}

atValue: // at a value, or what should be one
	if i >= n {
		return -int(invalid)
	}
	switch value[i] {
	case '{', '[':
		goto open
	case '"':
		if i = plainEnd(value, i+1); i >= n || value[i] != '"' {
			if i, _ = scanString(value, i); i < 0 {
				return -int(invalid)
			}
		}
		i++
	case 't':
		if i+4 > n || string(value[i:i+4]) != "true" {
			return -int(invalid)
		}
		i += 4
	case 'f':
		if i+5 > n || string(value[i:i+5]) != "false" {
			return -int(invalid)
		}
		i += 5
	case 'n':
		if i+4 > n || string(value[i:i+4]) != "null" {
			return -int(invalid)
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
				return -int(invalid)
			}
		}
	}

afterValue: // after a value in the container at depth
	if i >= n {
		return -int(invalid)
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
			return -int(invalid)
		}
	case ']':
		if obj {
			return -int(invalid)
		}
	case ' ', '\t', '\n', '\r':
		i = skipSpace(value, i)
		goto afterValue
	default:
		return -int(invalid)
	}
	i++

closed: // just after the '}' or ']' that closed the container at depth
	if depth--; depth == base {
		return i
	}
	obj = stack[(depth-1)>>6]&(1<<((depth-1)&63)) != 0
	goto afterValue
}
