package jsonpath

// skip validates the object or array that opens at value[i], nested in
// depth levels, and returns the offset just past its end; or -invalid if it
// is not valid JSON, or -overflow if it nests deeper than stack holds. It
// follows no path, so it keeps few variables, and the compiler keeps them
// in registers: it reads the bulk of most values. stack holds a bit per
// level of nesting, set for an object.
func skip(value []byte, i, depth int, stack []uint64) int {
	n := len(value)
	base := depth

open: // at the '{' or '[' that opens a container
	depth++
	if depth > maxNesting {
		return -int(invalid)
	}
	if w, bit := (depth-1)>>6, uint64(1)<<((depth-1)&63); w >= len(stack) {
		return -int(overflow)
	} else if value[i] == '{' {
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
	i = skipSpace(value, i+1)
	if i >= n || value[i] != ':' {
		return -int(invalid)
	}
	i = skipSpace(value, i+1)

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
	default:
		if i = scanScalar(value, i); i < 0 {
			return -int(invalid)
		}
	}

afterValue: // after a value in the container at depth
	i = skipSpace(value, i)
	if i >= n {
		return -int(invalid)
	}
	if inObject := stack[(depth-1)>>6]&(1<<((depth-1)&63)) != 0; value[i] == ',' {
		i = skipSpace(value, i+1)
		if inObject {
			goto atKey
		}
		goto atValue
	} else if value[i] == '}' && inObject || value[i] == ']' && !inObject {
		i++
		goto closed
	}
	return -int(invalid)

closed: // just after the '}' or ']' that closed the container at depth
	if depth--; depth == base {
		return i
	}
	goto afterValue
}
