package cluster

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sessiond/sessiond"
)

// readAll reads everything r has left, decoding the entries, and checks
// that sequence numbers follow on from want.
func readAll(t *testing.T, l *outLog, r *logReader, want uint64) (keys []string, next uint64, lost bool) {
	t.Helper()
	next = want
	for {
		b, first, n, skipped := l.read(r)
		l2 := skipped[1] > skipped[0]
		if l2 && skipped[0] != next {
			t.Fatalf("skipped entries from %d, want from %d", skipped[0], next)
		}
		lost = lost || l2
		if n == 0 {
			return keys, next, lost
		}
		if first != next && !l2 {
			t.Fatalf("read entries from %d, want %d", first, next)
		}
		d := decoder{b: b}
		for range n {
			var rec sessiond.Record
			if kind, clear := d.entry(&rec, 1<<20); kind == entryClear {
				keys = append(keys, fmt.Sprintf("clear@%d", clear.Time))
			} else {
				keys = append(keys, rec.Key)
			}
		}
		if d.err != nil || len(d.b) != 0 {
			t.Fatalf("decoding %d entries: %v, %d bytes left", n, d.err, len(d.b))
		}
		next = first + uint64(n)
	}
}

func rec(key string, size int) *sessiond.Record {
	return &sessiond.Record{Key: key, Value: make([]byte, size), Version: sessiond.Version{Time: 1, Node: 1}}
}

// sendAll reads what r has left as a sender does, saying sent after each
// read.
func sendAll(l *outLog, r *logReader) {
	for {
		if _, _, n, _ := l.read(r); n == 0 {
			return
		}
		l.sent(r)
	}
}

func TestOutLog(t *testing.T) {
	l := newOutLog(1 << 30)
	a := l.reader()
	for i := range 1000 {
		if seq := l.appendRecord(rec(fmt.Sprint(i), 300)); seq != uint64(i+1) {
			t.Fatalf("entry %d got sequence number %d", i, seq)
		}
	}
	if seq := l.appendClear(sessiond.Version{Time: 7, Node: 1}); seq != 1001 {
		t.Fatalf("clear got %d, want 1001", seq)
	}
	// b joins late: it starts at the oldest entry held, and a read wakes.
	b := l.reader()
	select {
	case <-a.wake:
	default:
		t.Error("appends did not wake the reader")
	}
	keys, next, lost := readAll(t, l, a, 1)
	if len(keys) != 1001 || keys[0] != "0" || keys[1000] != "clear@7" || next != 1002 || lost {
		t.Fatalf("a read %d entries up to %d (lost %v), want 1001 ending in the clear", len(keys), next, lost)
	}
	// Every chunk b has not read is still held; a's progress alone
	// frees nothing.
	if got, _, _ := readAll(t, l, b, 1); len(got) != 1001 {
		t.Fatalf("b read %d entries, want 1001", len(got))
	}
	// Read but not acknowledged: nothing is dropped, and a reader
	// rewound resends it.
	l.appendRecord(rec("x", 10))
	if len(l.chunks) < 2 {
		t.Errorf("%d chunks held before any acknowledgement, want them all", len(l.chunks))
	}
	l.rewind(a, 1000)
	if keys, _, lost := readAll(t, l, a, 1000); len(keys) != 3 || keys[0] != "999" || lost {
		t.Fatalf("rewound to 1000: read %v (lost %v), want 999, the clear and x", keys, lost)
	}
	readAll(t, l, b, 1002)
	l.acked(a, 1002)
	l.acked(b, 1002)
	l.appendRecord(rec("y", 10)) // trims what both acknowledged
	if len(l.chunks) != 1 {
		t.Errorf("%d chunks held after every peer acknowledged them, want 1 (the open one)", len(l.chunks))
	}
	// A reader rewound into the open chunk gets exactly the rest.
	l.rewind(b, 1003)
	if keys, _, _ := readAll(t, l, b, 1003); len(keys) != 1 || keys[0] != "y" {
		t.Fatalf("reader rewound to 1003 read %v, want [y]", keys)
	}
}

func TestOutLogBound(t *testing.T) {
	l := newOutLog(4 * chunkSize)
	slow := l.reader()
	for i := range 2000 {
		l.appendRecord(rec(fmt.Sprint(i), 500))
	}
	if l.size > 5*chunkSize {
		t.Errorf("log holds %d bytes, bound %d", l.size, 4*chunkSize)
	}
	keys, _, lost := readAll(t, l, slow, 1)
	if !lost {
		t.Error("a reader that fell behind the bound was not told it lost entries")
	}
	// A reader resuming at an entry no longer held learns it at once.
	l.rewind(slow, 2)
	if _, _, lost := readAll(t, l, slow, 2); !lost {
		t.Error("a reader resuming at a dropped entry was not told it lost entries")
	}
	if len(keys) == 0 || keys[len(keys)-1] != "1999" {
		t.Errorf("after losing its place the reader read %d entries, want the newest", len(keys))
	}
}

// A reader restarted for a new peer is not told of entries dropped before
// it: that peer counts for nothing older.
func TestOutLogRestart(t *testing.T) {
	l := newOutLog(64 << 10)
	r := l.reader()
	for i := range 1000 {
		l.appendRecord(rec(fmt.Sprint(i), 1000))
	}
	l.restart(r)
	if _, _, lost := readAll(t, l, r, l.oldest()); lost {
		t.Error("a restarted reader was told of entries dropped before it")
	}
	if got, want := l.kept(r), l.oldest(); got < want {
		t.Errorf("kept = %d, before the oldest entry held, %d", got, want)
	}
}

// Chunks every peer acknowledged are reused: a log in steady use makes
// no new ones.
func TestOutLogReusesChunks(t *testing.T) {
	l := newOutLog(1 << 20)
	r := l.reader()
	entry := rec("k", 500)
	made := map[*chunk]bool{}
	for range 20000 { // about 150 chunks' worth
		seq := l.appendRecord(entry)
		for _, c := range l.chunks {
			made[c] = true
		}
		sendAll(l, r)
		l.acked(r, seq)
	}
	if len(made) > spareChunks+2 {
		t.Errorf("the log made %d chunks for a steady load, want at most %d", len(made), spareChunks+2)
	}
}

// A chunk dropped for the bound while a sender is writing it out is not
// reused under it.
func TestOutLogKeepsChunkBeingSent(t *testing.T) {
	l := newOutLog(64 << 10)
	slow := l.reader()
	for i := range 60 {
		l.appendRecord(rec(fmt.Sprint(i), 1000))
	}
	b, _, n, _ := l.read(slow) // the sender holds these bytes
	if n == 0 {
		t.Fatal("nothing to read")
	}
	held := bytes.Clone(b)
	fast := l.reader()
	for i := range 1000 { // far past the bound: the held chunk is dropped
		seq := l.appendRecord(&sessiond.Record{Key: "x", Value: bytes.Repeat([]byte{byte(i)}, 1000), Version: sessiond.Version{Time: uint64(1000 + i), Node: 1}})
		sendAll(l, fast)
		l.acked(fast, seq)
	}
	if !bytes.Equal(b, held) {
		t.Fatal("the bytes a sender was writing out were overwritten")
	}
}

// Was: a chunk a large entry had grown was kept as a spare, outside the
// log's bound: 32 of them after a run of 1 MiB sessions held 32 MiB for
// good. Spares keep only the usual size.
func TestOutLogSparesStaySmall(t *testing.T) {
	l := newOutLog(64 << 20)
	r := l.reader()
	big := rec("k", 1<<20)
	var seq uint64
	for range 40 {
		seq = l.appendRecord(big)
	}
	sendAll(l, r)
	l.acked(r, seq)
	l.appendRecord(rec("s", 1)) // trims
	held := 0
	for _, c := range l.spare {
		held += cap(c.buf)
	}
	if held > spareChunks*chunkCap {
		t.Errorf("spare chunks hold %d bytes, more than %d of the usual size", held, spareChunks)
	}
}
