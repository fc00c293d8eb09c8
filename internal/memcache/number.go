package memcache

import "math"

// Numbers are parsed as memcached parses them, with C's strtoull and strtol
// behind its safe_strto* checks: optional white space, an optional sign,
// decimal digits, and then the end of the token or white space (whatever
// follows that is ignored, as memcached ignores it). Leading zeros and a
// plus sign are fine; a number out of range is not.

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// parseNumber splits b into its sign and magnitude.
func parseNumber(b []byte) (neg bool, mag uint64, ok bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if mag > (math.MaxUint64-d)/10 {
			return false, 0, false // ERANGE
		}
		mag = mag*10 + d
	}
	if i == start || i < len(b) && !isSpace(b[i]) {
		return false, 0, false
	}
	return neg, mag, true
}

// parseUint parses an unsigned number as safe_strtoull does. strtoull
// negates a number with a minus sign, modulo 2^64; memcached refuses the
// result only if it is negative as a signed number, so "-0" is 0.
func parseUint(b []byte) (uint64, bool) {
	neg, mag, ok := parseNumber(b)
	if !ok {
		return 0, false
	}
	if neg {
		mag = -mag
		if int64(mag) < 0 {
			return 0, false
		}
	}
	return mag, true
}

// parseInt parses a signed number as safe_strtol does, in 64 bits.
func parseInt(b []byte) (int64, bool) {
	neg, mag, ok := parseNumber(b)
	switch {
	case !ok:
		return 0, false
	case neg && mag <= 1<<63:
		return -int64(mag), true
	case !neg && mag <= math.MaxInt64:
		return int64(mag), true
	}
	return 0, false
}

// ParseValue parses a stored value as incr and decr read it: a decimal
// number of at most 64 bits, possibly followed by white space and anything
// after it. It reports false for what memcached calls a non-numeric value.
func ParseValue(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	return parseUint(b)
}
