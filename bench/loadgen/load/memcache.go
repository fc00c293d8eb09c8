package load

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
)

// maxValues bounds the VALUE blocks one retrieval reply may hold, so that
// a broken server cannot keep one Read going without end. Every get this
// package sends asks for one key.
const maxValues = 1024

// appendMemcache appends op on key as a memcached text protocol command:
// "get <key>", or "set <key> 0 <exptime> <bytes>" and the data block.
func appendMemcache(dst []byte, op Op, key string, value []byte) []byte {
	if op == OpGet {
		dst = append(dst, "get "...)
		dst = append(dst, key...)
		return append(dst, "\r\n"...)
	}
	exptime := "0"
	if op == OpSession {
		exptime = sessionTTL
	}
	dst = append(dst, "set "...)
	dst = append(dst, key...)
	dst = append(dst, " 0 "...)
	dst = append(dst, exptime...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(value)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// MemcacheReader reads replies of the memcached text protocol and maps
// each onto a Reply, so that errors and misses are counted as for RESP:
//
//   - a retrieval reply (VALUE blocks closed by END) holding one value is
//     Kind '$' with Len the value's length; END alone, a miss, is '$' with
//     Len -1; more than one value is '*' with Len the number of values.
//   - ERROR, CLIENT_ERROR <msg> and SERVER_ERROR <msg> are Kind '-' with
//     Err the whole line.
//   - a status line (STORED, NOT_STORED, EXISTS, NOT_FOUND, DELETED,
//     TOUCHED, OK, RESET, VERSION <v>) is Kind '+' with Text the line.
//   - the number incr and decr answer is Kind ':' with Int the number.
//
// Like Reader, it keeps nothing of a value but its length.
type MemcacheReader struct {
	r *bufio.Reader
}

// NewMemcacheReader returns a MemcacheReader on r.
func NewMemcacheReader(r *bufio.Reader) *MemcacheReader { return &MemcacheReader{r: r} }

// Read reads one whole reply.
func (rd *MemcacheReader) Read() (Reply, error) {
	line, err := readLine(rd.r)
	if err != nil {
		return Reply{}, err
	}
	switch {
	case string(line) == "STORED":
		return Reply{Kind: '+', Text: "STORED"}, nil // without an allocation
	case string(line) == "END":
		return Reply{Kind: '$', Len: -1}, nil
	case bytes.HasPrefix(line, []byte("VALUE ")):
		return rd.values(line)
	case isWord(line, "ERROR"), isWord(line, "CLIENT_ERROR"), isWord(line, "SERVER_ERROR"):
		return Reply{Kind: '-', Err: string(line)}, nil
	case isWord(line, "VERSION"):
		return Reply{Kind: '+', Text: string(line)}, nil
	case len(line) > 0 && line[0] >= '0' && line[0] <= '9':
		n, err := parseInt(line)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Kind: ':', Int: n}, nil
	}
	switch string(line) {
	case "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK", "RESET":
		return Reply{Kind: '+', Text: string(line)}, nil
	}
	return Reply{}, fmt.Errorf("%w: unknown memcached reply %q", ErrProtocol, line)
}

// values reads the data blocks of a retrieval reply, from its first
// VALUE line up to the END that closes it.
func (rd *MemcacheReader) values(line []byte) (Reply, error) {
	rep := Reply{Kind: '$'}
	for count := 1; ; count++ {
		if count > maxValues {
			return Reply{}, fmt.Errorf("%w: more than %d values in one reply", ErrProtocol, maxValues)
		}
		n, err := valueBytes(line)
		if err != nil {
			return Reply{}, err
		}
		if err := skipPayload(rd.r, n, "data block"); err != nil {
			return Reply{}, err
		}
		if count == 1 {
			rep.Len = n
		} else {
			rep.Kind, rep.Len = '*', count
		}
		if line, err = readLine(rd.r); err != nil {
			return Reply{}, err
		}
		if string(line) == "END" {
			return rep, nil
		}
		if !bytes.HasPrefix(line, []byte("VALUE ")) {
			return Reply{}, fmt.Errorf("%w: %q where VALUE or END was due", ErrProtocol, line)
		}
	}
}

// valueBytes returns the length of the data block a VALUE line announces:
// "VALUE <key> <flags> <bytes>", with " <cas unique>" after a gets.
func valueBytes(line []byte) (int, error) {
	var f [4][]byte
	rest, n := line[len("VALUE "):], 0
	for ; n < len(f) && len(rest) > 0; n++ {
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			f[n], rest = rest, nil
		} else {
			f[n], rest = rest[:i], rest[i+1:]
		}
	}
	if n < 3 || len(rest) > 0 || len(f[0]) == 0 || !isDigits(f[1]) || !isDigits(f[2]) || n == 4 && !isDigits(f[3]) {
		return 0, fmt.Errorf("%w: bad VALUE line %q", ErrProtocol, line)
	}
	size, err := parseInt(f[2])
	if err != nil {
		return 0, err
	}
	return int(size), nil
}

// isDigits reports whether b is 1 to 20 decimal digits: a uint64.
func isDigits(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isWord reports whether line is word alone or word, a space and more.
func isWord(line []byte, word string) bool {
	return bytes.HasPrefix(line, []byte(word)) && (len(line) == len(word) || line[len(word)] == ' ')
}
