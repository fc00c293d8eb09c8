package cluster

import (
	"slices"
	"sync"

	"github.com/sessiond/sessiond"
)

// outLog is the node's outbound log: every local change, encoded once in the
// order the store passed them, numbered from 1 (a sequence number is the
// ticket the store waits on). Each peer's sender reads it from its own
// place; entries are dropped once every sender has passed them, or when the
// log outgrows its bound, and a sender that loses its place then starts
// again at the end (repair brings that peer up to date).
type outLog struct {
	mu      sync.Mutex
	chunks  []*chunk     // the last one is open
	next    uint64       // sequence number of the next entry
	size    int          // bytes held
	max     int          // bound on size
	readers []*logReader // a few: one per peer
	spare   []*chunk     // dropped chunks no sender is writing out, for reuse
}

// spareChunks bounds the chunks kept for reuse (2 MiB): the log of a node
// under a steady write load grows and shrinks by about this many between
// acknowledgements, and then allocates nothing once it is warm.
const spareChunks = 32

// chunk is a run of entries. Bytes before len(buf) never change, so a
// sender can write them out without the lock.
type chunk struct {
	first uint64 // sequence number of the first entry
	n     int    // entries
	buf   []byte
}

// chunkSize is the size at which a chunk is closed and a new one begun: the
// granularity of dropping, and the most one message carries.
const chunkSize = 64 << 10

// chunkCap is the capacity a chunk is made with: room for the entry that
// crosses chunkSize, unless it is large.
const chunkCap = chunkSize + 4<<10

func newOutLog(max int) *outLog {
	return &outLog{next: 1, max: max}
}

// appendRecord logs a record and returns its sequence number.
func (l *outLog) appendRecord(rec *sessiond.Record) uint64 {
	l.mu.Lock()
	c := l.open()
	n := len(c.buf)
	c.buf = appendEntryRecord(c.buf, rec)
	return l.added(c, len(c.buf)-n)
}

// appendClear logs a Clear at version v and returns its sequence number.
func (l *outLog) appendClear(v sessiond.Version) uint64 {
	l.mu.Lock()
	c := l.open()
	n := len(c.buf)
	c.buf = appendEntryClear(c.buf, v)
	return l.added(c, len(c.buf)-n)
}

// open returns the chunk to append to. Called with mu held.
func (l *outLog) open() *chunk {
	if n := len(l.chunks); n > 0 && len(l.chunks[n-1].buf) < chunkSize {
		return l.chunks[n-1]
	}
	var c *chunk
	if n := len(l.spare); n > 0 {
		c, l.spare = l.spare[n-1], l.spare[:n-1]
		*c = chunk{first: l.next, buf: c.buf[:0]}
	} else {
		c = &chunk{first: l.next, buf: make([]byte, 0, chunkCap)}
	}
	l.chunks = append(l.chunks, c)
	return c
}

// added finishes an append of size bytes to c: counts it, trims the log,
// wakes the readers, unlocks, and returns the entry's sequence number.
func (l *outLog) added(c *chunk, size int) uint64 {
	seq := l.next
	l.next++
	c.n++
	l.size += size
	l.trim()
	for _, r := range l.readers {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	l.mu.Unlock()
	return seq
}

// trim drops the chunks whose every entry each reader's peer has
// acknowledged, and the oldest ones while the log is over its bound. Called
// with mu held.
func (l *outLog) trim() {
	k := 0 // chunks dropped
	for ; k < len(l.chunks)-1; k++ {
		c := l.chunks[k]
		passed := true
		for _, r := range l.readers {
			if r.keep < c.first+uint64(c.n) {
				passed = false
				break
			}
		}
		if !passed && l.size <= l.max {
			break
		}
		l.size -= len(c.buf)
		l.recycle(c)
	}
	if k > 0 {
		// Shift, keeping the array: appends then do not allocate.
		n := copy(l.chunks, l.chunks[k:])
		clear(l.chunks[n:])
		l.chunks = l.chunks[:n]
	}
}

// recycle keeps a dropped chunk for reuse unless a sender is still writing
// its bytes out (a chunk dropped for the bound may be), or a large entry
// grew it: spares are not counted against the bound, so they keep only
// the usual size. Called with mu held.
func (l *outLog) recycle(c *chunk) {
	if len(l.spare) >= spareChunks || cap(c.buf) > chunkCap {
		return
	}
	for _, r := range l.readers {
		if r.out == c {
			return
		}
	}
	l.spare = append(l.spare, c)
}

// last returns the sequence number of the latest entry, 0 if none.
func (l *outLog) last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// logReader is one peer's place in the log. It lives as long as the peer
// is a member, across reconnections of its stream, so that what the peer has
// not acknowledged stays in the log (within its bound) to be sent again.
type logReader struct {
	seq  uint64 // next entry to send
	keep uint64 // oldest entry the peer has not acknowledged
	out  *chunk // whose bytes the sender may be writing out (see sent)
	wake chan struct{}
}

// reader returns a reader that starts at the oldest entry held.
func (l *outLog) reader() *logReader {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &logReader{seq: l.oldest(), wake: make(chan struct{}, 1)}
	r.keep = r.seq
	l.readers = append(l.readers, r)
	return r
}

// rewind moves the reader back (or on) to entry seq: where a reconnected
// peer resumes. If seq is no longer held, the next read reports the
// entries lost.
func (l *outLog) rewind(r *logReader, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.seq = min(seq, l.next)
	r.keep = min(r.keep, r.seq)
}

// restart moves the reader to the oldest entry held, for a peer that
// counts for nothing before it (new, or restarted: its join sync or repair
// brings what is older), so that what was dropped before is not reported
// lost to it later.
func (l *outLog) restart(r *logReader) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.seq = l.oldest()
	r.keep = r.seq
}

// toEnd moves the reader past the last entry, for a peer that catches up
// by difference (a repair round) on what came before.
func (l *outLog) toEnd(r *logReader) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.seq = l.next
	r.keep = r.seq
}

// kept returns the oldest entry the reader's peer has not acknowledged.
func (l *outLog) kept(r *logReader) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return r.keep
}

// acked records that the reader's peer applied the log through seq.
func (l *outLog) acked(r *logReader, seq uint64) {
	l.mu.Lock()
	r.keep = max(r.keep, min(seq+1, r.seq))
	l.mu.Unlock()
}

// oldest returns the first sequence number the log holds. Called with mu
// held.
func (l *outLog) oldest() uint64 {
	if len(l.chunks) == 0 {
		return l.next
	}
	return l.chunks[0].first
}

// close forgets the reader.
func (l *outLog) close(r *logReader) {
	l.mu.Lock()
	if i := slices.Index(l.readers, r); i >= 0 {
		l.readers = slices.Delete(l.readers, i, i+1)
	}
	l.mu.Unlock()
}

// read returns the entries from the reader's place on, as far as the end
// of one chunk: their bytes (not to be modified, and valid until the
// caller says sent), the sequence number of the first, and their count,
// and moves the reader past them. If entries
// the reader had not sent were dropped, it skips to the oldest held and
// lost is the range skipped, [lost[0], lost[1]). Zero count: nothing new;
// wait on r.wake.
func (l *outLog) read(r *logReader) (b []byte, first uint64, n int, lost [2]uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old := l.oldest(); r.seq < old {
		lost = [2]uint64{r.seq, old}
		r.seq = old
		r.keep = max(r.keep, old)
	}
	for _, c := range l.chunks {
		if r.seq >= c.first+uint64(c.n) {
			continue
		}
		// Entries are not indexed: skip to the reader's by decoding
		// their lengths. A reader is at a chunk's start unless it read
		// the open chunk before it grew, or was rewound, so this is
		// short.
		off := 0
		for s := c.first; s < r.seq; s++ {
			off += entryLen(c.buf[off:])
		}
		first, n = r.seq, c.n-int(r.seq-c.first)
		r.seq += uint64(n)
		r.out = c
		return c.buf[off:len(c.buf)], first, n, lost
	}
	return nil, r.seq, 0, lost
}

// sent says the reader's sender is done with the bytes read last: their
// chunk may be reused once dropped.
func (l *outLog) sent(r *logReader) {
	l.mu.Lock()
	r.out = nil
	l.mu.Unlock()
}

// entryLen returns the length of the entry at the start of b, which the log
// wrote itself.
func entryLen(b []byte) int {
	d := decoder{b: b}
	var rec sessiond.Record
	if d.entry(&rec, 1<<31-1); d.err != nil {
		panic("cluster: corrupt outbound log: " + d.err.Error())
	}
	return len(b) - len(d.b)
}
