package disk

import (
	"encoding/binary"
	"fmt"
)

// FrameHeader is the size of a log frame's header: the body's length and
// its CRC-32C.
const FrameHeader = 8

// Scan is what ScanLog found in a log.
type Scan struct {
	// End is the offset after the last good frame: where a cut tail
	// starts, and where the valid log ends.
	End int64
	// Frames counts the good frames.
	Frames int
	// TornBytes is the length of the torn tail after End, up to the
	// last byte that is not zero; 0 when the log ends cleanly.
	TornBytes int64
}

// ScanLog calls fn for each good frame of the log in data (a whole file:
// header, then frames), with the frame's offset and body. maxBody bounds a
// body's length. plausible, if not nil, says whether a body could be one:
// it keeps the search for good frames after a bad one from being fooled by
// chance. fn's error stops the scan and is returned.
//
// A bad frame followed by no good one is a torn tail: the scan stops before
// it and reports its extent in Scan. A bad frame with a good one after it
// is a *DamageError, and so is a whole frame longer than maxBody. file
// names the file in errors.
func ScanLog(file string, data []byte, maxBody int, plausible func(body []byte) bool, fn func(off int64, body []byte) error) (Scan, error) {
	if _, err := checkHeader(file, data, KindLog); err != nil {
		return Scan{}, err
	}
	var s Scan
	off := HeaderSize
	for {
		n, ok := frameAt(data, off, maxBody)
		if ok {
			if err := fn(int64(off), data[off+FrameHeader:off+FrameHeader+n]); err != nil {
				return s, err
			}
			s.Frames++
			off += FrameHeader + n
			continue
		}
		s.End = int64(off)
		if n, ok := frameAt(data, off, len(data)); ok {
			// A whole frame is no torn append, and what follows it
			// may be far past where goodFrameAfter looks.
			return s, &DamageError{File: file, Offset: int64(off), Reason: fmt.Sprintf("frame of %d bytes is longer than the longest body (%d)", n, maxBody)}
		}
		nz := lastNonZero(data[off:])
		if nz == 0 {
			return s, nil // the clean end: nothing but preallocated zeros
		}
		if at, found := goodFrameAfter(data, off, maxBody, plausible); found {
			return s, &DamageError{File: file, Offset: int64(off), Reason: fmt.Sprintf("bad frame with a good one after it at offset %d", at)}
		}
		s.TornBytes = int64(nz)
		return s, nil
	}
}

// frameAt reports whether a good frame starts at off, and its body length.
func frameAt(data []byte, off, maxBody int) (n int, ok bool) {
	if off < 0 || len(data)-off < FrameHeader {
		return 0, false
	}
	n64 := uint64(binary.LittleEndian.Uint32(data[off:]))
	if n64 == 0 || n64 > uint64(maxBody) || n64 > uint64(len(data)-off-FrameHeader) {
		return 0, false
	}
	n = int(n64)
	body := data[off+FrameHeader : off+FrameHeader+n]
	return n, binary.LittleEndian.Uint32(data[off+4:]) == Checksum(body)
}

// goodFrameAfter looks for a good frame after the bad one at off: first
// where the bad frame's own length points, then at every offset up to the
// longest frame away, which is as far as the next frame can be when the
// length itself is what was damaged.
func goodFrameAfter(data []byte, off, maxBody int, plausible func([]byte) bool) (int, bool) {
	good := func(at int) bool {
		if len(data)-at < FrameHeader {
			return false
		}
		if plausible != nil {
			// The cheap check first: most offsets fail it.
			n := uint64(binary.LittleEndian.Uint32(data[at:]))
			if n == 0 || n > uint64(maxBody) || n > uint64(len(data)-at-FrameHeader) || !plausible(data[at+FrameHeader:at+FrameHeader+int(n)]) {
				return false
			}
		}
		_, ok := frameAt(data, at, maxBody)
		return ok
	}
	if len(data)-off >= FrameHeader {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if n > 0 && n <= maxBody {
			if at := off + FrameHeader + n; at < len(data) && good(at) {
				return at, true
			}
		}
	}
	// With a plausibility check, every offset to the end is tried: two
	// damaged frames side by side can put the next good one further than
	// the longest frame away, and cutting there would lose it. Each
	// offset costs a few comparisons unless it passes the check. Without
	// one, a checksum per offset bounds the search to a frame's length.
	limit := len(data) - FrameHeader
	if plausible == nil && maxBody < limit-off-2*FrameHeader { // so that a huge maxBody cannot overflow
		limit = off + 2*FrameHeader + maxBody
	}
	for at := off + 1; at <= limit; at++ {
		if binary.LittleEndian.Uint32(data[at:]) == 0 {
			continue // not a frame's length: the common case in a zero tail
		}
		if good(at) {
			return at, true
		}
	}
	return 0, false
}

// lastNonZero returns the length of b up to and including its last byte
// that is not zero.
func lastNonZero(b []byte) int {
	i := len(b)
	for i >= 8 && binary.LittleEndian.Uint64(b[i-8:]) == 0 {
		i -= 8
	}
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return i
}
