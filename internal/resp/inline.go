package resp

// splitArgs splits an inline command line into arguments the way Redis's
// sdssplitargs does. Arguments are separated by blanks (C's isspace: space,
// \t, \n, \v, \f, \r). An unquoted word ends only at a space, \t, \n or \r,
// so "a\vb" is one argument, as in Redis. A word may go on into one
// "double-quoted" part, with backslash escapes (\n \r \t \b \a \xHH, and
// any other character taken as itself), or one 'single-quoted' part, in
// which only \' is an escape; the closing quote must be followed by a blank
// or the end of the line. Unquoted words alias line; quoted ones are
// copied.
//
// Unlike Redis, a NUL byte is an ordinary character: Redis, reading the
// line as a C string, stops at it and waits for a newline it never finds.
func splitArgs(line []byte, dst [][]byte) ([][]byte, error) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return dst, nil
		}
		start := i
		for i < len(line) && !endsWord(line[i]) && line[i] != '"' && line[i] != '\'' {
			i++
		}
		if i == len(line) || endsWord(line[i]) {
			dst = append(dst, line[start:i:i])
			continue
		}
		prefix := append([]byte{}, line[start:i]...)
		arg, n, err := quoted(line[i:], prefix)
		if err != nil {
			return nil, err
		}
		dst = append(dst, arg)
		i += n
	}
}

// quoted reads the quoted part that starts at s[0], a ' or a ", appending
// its unescaped bytes to arg, and returns arg and the bytes of s it used.
func quoted(s []byte, arg []byte) ([]byte, int, error) {
	q := s[0]
	i := 1
	for {
		if i >= len(s) {
			return nil, 0, protoErr("unbalanced quotes in request")
		}
		c := s[i]
		switch {
		case c == q:
			i++
			if i < len(s) && !isSpace(s[i]) {
				return nil, 0, protoErr("unbalanced quotes in request")
			}
			return arg, i, nil
		case q == '"' && c == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]):
			arg = append(arg, unhex(s[i+2])<<4|unhex(s[i+3]))
			i += 4
			continue
		case q == '"' && c == '\\' && i+1 < len(s):
			i++
			switch c = s[i]; c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'a':
				c = '\a'
			}
		case q == '\'' && c == '\\' && i+1 < len(s) && s[i+1] == '\'':
			i++
			c = '\''
		}
		arg = append(arg, c)
		i++
	}
}

// isSpace is C's isspace: what separates arguments and may follow a
// closing quote.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// endsWord reports whether c ends an unquoted word. sdssplitargs stops a
// word at fewer characters than it skips between words.
func endsWord(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
