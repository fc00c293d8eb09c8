package resp

import "bytes"

// Ahead calls fn with the name and the first argument of each command that
// is buffered complete and not yet returned, in order, for at most most
// commands, and returns how many it found. It looks only at commands in the
// array form: it stops at an inline command, at one not complete, and at
// anything it cannot read, and skips commands of fewer than two arguments.
// name and arg are valid until the next ReadCommand.
//
// It changes nothing and checks less than ReadCommand does (no limits, no
// CRLF after a bulk), which parses every command again and finds its
// errors: a command Ahead reports may still be refused. It is for a server
// that prefetches what a batch of commands will touch (internal/prefetch),
// called from AfterRead.
func (r *Reader) Ahead(most int, fn func(name, arg []byte)) int {
	if r.inCmd || r.perr != nil {
		return 0
	}
	found := 0
	for p := r.r; found < most && p < r.w && r.buf[p] == '*'; {
		n, next, ok := r.aheadHeader(p)
		if !ok {
			break
		}
		var name, arg []byte
		for i := int64(0); i < n; i++ {
			if next >= r.w || r.buf[next] != '$' {
				return found
			}
			size, start, ok := r.aheadHeader(next)
			if !ok || size < 0 || size > int64(r.w-start)-2 {
				return found
			}
			switch i {
			case 0:
				name = r.buf[start : start+int(size)]
			case 1:
				arg = r.buf[start : start+int(size)]
			}
			next = start + int(size) + 2
		}
		if n >= 2 {
			fn(name, arg)
			found++
		}
		p = next
	}
	return found
}

// aheadHeaderMax is the longest header line Ahead reads: "$" or "*", 20
// digits and a sign, CRLF.
const aheadHeaderMax = 24

// aheadHeader reads the "*N\r\n" or "$N\r\n" line at p, complete, returning
// N and where the line after it starts.
func (r *Reader) aheadHeader(p int) (n int64, next int, ok bool) {
	line := r.buf[p:min(r.w, p+aheadHeaderMax)]
	i := bytes.IndexByte(line, '\n')
	if i < 2 || line[i-1] != '\r' {
		return 0, 0, false
	}
	n, ok = parseInt(line[1 : i-1])
	return n, p + i + 1, ok
}
