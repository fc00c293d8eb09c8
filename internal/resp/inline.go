package resp

// splitArgs splits an inline command line into arguments the way Redis's
// sdssplitargs does: words separated by spaces, "double quotes" with
// backslash escapes (\n \r \t \b \a \\ \" and \xHH), 'single quotes' with
// only \' escaped. A closing quote must be followed by a space or the end
// of the line. Unquoted words alias line; quoted ones are copied.
func splitArgs(line []byte, dst [][]byte) ([][]byte, error) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return dst, nil
		}
		if line[i] != '"' && line[i] != '\'' {
			start := i
			for i < len(line) && !isSpace(line[i]) && line[i] != '"' && line[i] != '\'' {
				i++
			}
			if i < len(line) && !isSpace(line[i]) {
				// A quote inside a word: Redis reads it as the
				// start of a quoted part of the same argument.
				arg, n, err := quotedWord(line[i:], append([]byte{}, line[start:i]...))
				if err != nil {
					return nil, err
				}
				dst = append(dst, arg)
				i += n
				continue
			}
			dst = append(dst, line[start:i:i])
			continue
		}
		arg, n, err := quotedWord(line[i:], nil)
		if err != nil {
			return nil, err
		}
		dst = append(dst, arg)
		i += n
	}
}

// quotedWord reads the rest of an argument that continues at s, which may
// mix quoted and unquoted parts, appending its bytes to arg.
func quotedWord(s []byte, arg []byte) ([]byte, int, error) {
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		switch s[i] {
		case '"':
			i++
			for {
				if i >= len(s) {
					return nil, 0, protoErr("unbalanced quotes in request")
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]) {
					arg = append(arg, unhex(s[i+2])<<4|unhex(s[i+3]))
					i += 4
					continue
				}
				if c == '\\' && i+1 < len(s) {
					i++
					switch s[i] {
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
					default:
						c = s[i]
					}
				}
				arg = append(arg, c)
				i++
			}
			if i < len(s) && !isSpace(s[i]) {
				return nil, 0, protoErr("unbalanced quotes in request")
			}
		case '\'':
			i++
			for {
				if i >= len(s) {
					return nil, 0, protoErr("unbalanced quotes in request")
				}
				c := s[i]
				if c == '\'' {
					i++
					break
				}
				if c == '\\' && i+1 < len(s) && s[i+1] == '\'' {
					i++
					c = '\''
				}
				arg = append(arg, c)
				i++
			}
			if i < len(s) && !isSpace(s[i]) {
				return nil, 0, protoErr("unbalanced quotes in request")
			}
		default:
			arg = append(arg, s[i])
			i++
		}
	}
	if arg == nil {
		arg = []byte{}
	}
	return arg, i, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
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
