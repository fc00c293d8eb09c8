package memcache

import "bytes"

// Ahead calls fn with the keys of the commands that are buffered complete
// and not yet returned, in order, at most most of them, and returns how
// many it found: every key of get, gets, gat and gats, with value set, and
// the key of a storage command, touch, delete, incr and decr. It stops at a
// line not complete, at a storage command whose data block is not, and at a
// storage line it cannot read; it skips other commands. key is valid until
// the next Read.
//
// It changes nothing and checks less than Read does (no limits, no key
// rules), which parses every command again and finds its errors: a key
// Ahead reports may be refused. It is for a server that prefetches what a
// batch of commands will touch (internal/prefetch), called from AfterRead.
func (r *Reader) Ahead(most int, fn func(key []byte, value bool)) int {
	if r.st != stLine || r.ferr != nil {
		return 0
	}
	found := 0
	// The first line's search starts where Read's stopped (scan): a long
	// line that comes in many reads is searched once, not once a read.
	// The lines after it are new input.
	skip := min(r.scan, r.w-r.r)
	for p := r.r; found < most && p < r.w; skip = 0 {
		nl := bytes.IndexByte(r.buf[p+skip:r.w], '\n')
		if nl < 0 {
			break
		}
		nl += skip
		line := bytes.TrimSuffix(r.buf[p:p+nl], []byte{'\r'})
		p += nl + 1
		name, rest := nextToken(line)
		key := []byte(nil)
		switch op := lookupOp(name); {
		case op.isRetrieval():
			if op == Gat || op == Gats {
				_, rest = nextToken(rest) // the exptime
			}
			for found < most {
				if key, rest = nextToken(rest); len(key) == 0 {
					break
				}
				fn(key, true)
				found++
			}
			continue
		case op.IsStorage():
			// key flags exptime bytes: the block follows the line.
			key, rest = nextToken(rest)
			_, rest = nextToken(rest)
			_, rest = nextToken(rest)
			count, _ := nextToken(rest)
			n, ok := parseInt(count)
			if !ok || n < 0 || n > maxBlock || n+2 > int64(r.w-p) {
				return found
			}
			p += int(n) + 2
		case op == Touch || op == Delete || op == Incr || op == Decr:
			key, _ = nextToken(rest)
		}
		if len(key) > 0 {
			fn(key, false)
			found++
		}
	}
	return found
}

// nextToken returns the token at the start of line, after any spaces, and
// what follows it: tokens are split at spaces as memcached splits them.
func nextToken(line []byte) (tok, rest []byte) {
	line = bytes.TrimLeft(line, " ")
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return line, nil
	}
	return line[:i], line[i:]
}
