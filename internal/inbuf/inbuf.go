// Package inbuf is the input buffer the protocol readers (internal/resp,
// internal/memcache) share: bytes read from a connection and not yet
// parsed, in buf[r:w], grown up to a bound for a large command and shrunk
// back once it is handled, so that an idle connection holds little.
package inbuf

import (
	"errors"
	"io"
)

// ErrFull is returned by Fill when the buffer is at its bound and full:
// the reader's parser should have refused the command before.
var ErrFull = errors.New("input buffer full")

// errInvalidCount is returned for an io.Reader that breaks its contract.
var errInvalidCount = errors.New("reader returned an invalid count")

// maxEmptyReads is how many reads in a row may return no data and no error
// before Fill gives up, as in bufio.
const maxEmptyReads = 100

// Fill moves the unread bytes buf[r:w] to the front and reads once more
// into the rest, doubling buf (up to limit bytes) when it is full. It
// returns the buffer, which may be new, and the new r and w.
func Fill(rd io.Reader, buf []byte, r, w, limit int) ([]byte, int, int, error) {
	if r > 0 {
		w = copy(buf, buf[r:w])
		r = 0
	}
	if w == len(buf) {
		if len(buf) >= limit {
			return buf, r, w, ErrFull
		}
		nb := make([]byte, min(2*len(buf), limit))
		copy(nb, buf[:w])
		buf = nb
	}
	// An io.Reader may return 0, nil now and then; as bufio does, give
	// up only when it keeps on doing so.
	for range maxEmptyReads {
		n, err := rd.Read(buf[w:])
		if n < 0 || n > len(buf)-w {
			return buf, r, w, errInvalidCount
		}
		w += n
		if n > 0 {
			return buf, r, w, nil
		}
		if err != nil {
			return buf, r, w, err
		}
	}
	return buf, r, w, io.ErrNoProgress
}

// Shrink returns a buffer of initial bytes holding buf[r:w], and its r and
// w, if buf grew past initial and what it holds fits; otherwise buf, r and
// w unchanged.
func Shrink(buf []byte, r, w, initial int) ([]byte, int, int) {
	if len(buf) <= initial || w-r > initial {
		return buf, r, w
	}
	nb := make([]byte, initial)
	return nb, 0, copy(nb, buf[r:w])
}
