//go:build unix

package disk_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/disk"
)

// castagnoli checks the package's checksums without its help.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// goodHeader reports whether b starts with a header ScanLog or
// ReadSnapshot must accept.
func goodHeader(b []byte, k disk.Kind) bool {
	return len(b) >= disk.HeaderSize && string(b[:8]) == "sessiond" && disk.Kind(b[8:12]) == k &&
		readable(binary.LittleEndian.Uint32(b[12:])) &&
		binary.LittleEndian.Uint32(b[28:]) == crc32.Checksum(b[:28], castagnoli)
}

// readable reports whether a file of format version v is read: versions 1
// (no compressed blocks) to FormatVersion.
func readable(v uint32) bool { return v >= 1 && v <= disk.FormatVersion }

func FuzzScanLog(f *testing.F) {
	bodies := bodiesOf(1, 10, 300, 5, 40)
	closed := readFile(f, writeLog(f, disk.LogOptions{}, bodies))
	offs, _ := frameOffsets(bodies)
	damaged := slices.Clone(closed)
	damaged[offs[2]+disk.FrameHeader+7] ^= 1
	badLength := slices.Clone(closed)
	badLength[offs[3]] ^= 0x40

	// A log of a release that preallocated: its frames, then zeros.
	path := filepath.Join(f.TempDir(), "log.000002")
	l, err := disk.CreateLog(path, 2, disk.LogOptions{})
	if err != nil {
		f.Fatal(err)
	}
	appendFrames(f, l, bodiesOf(3, 100, 8))
	open := append(readFile(f, path), make([]byte, 512)...)
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}

	for _, seed := range [][]byte{
		closed, open, damaged, badLength,
		closed[:len(closed)-20],                     // torn
		append(slices.Clone(closed), 7, 0, 0, 0, 1), // junk after the end
		closed[:disk.HeaderSize],
		readFile(f, writeSnapshot(f, []byte("meta"), bodiesOf(4))), // the wrong kind
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScan(t, data, 1<<20, nil)
		checkScan(t, data, 64, nil)
		// The bytes after a good header too, so that every mutation
		// reaches the frames.
		framed := append(header(disk.KindLog, disk.FormatVersion, 1), data...)
		checkScan(t, framed, 1<<20, nil)
		checkScan(t, framed, 16, func(b []byte) bool { return b[0]&1 == 0 })
	})
}

// checkScan scans data and checks what must hold of any input: each body is
// a slice of data, where a frame's header puts it and sums it; the scan's
// extent agrees with the frames; a torn tail is all that is not zero after
// them.
func checkScan(t *testing.T, data []byte, max int, plausible func([]byte) bool) {
	t.Helper()
	next, frames := int64(disk.HeaderSize), 0
	s, err := disk.ScanLog("fuzz", data, max, plausible, func(off int64, body []byte) error {
		end := off + disk.FrameHeader + int64(len(body))
		switch {
		case off != next:
			t.Fatalf("maxBody %d: frame %d at %d, want %d", max, frames, off, next)
		case len(body) == 0 || len(body) > max:
			t.Fatalf("maxBody %d: frame %d at %d has a body of %d bytes", max, frames, off, len(body))
		case end > int64(len(data)):
			t.Fatalf("maxBody %d: frame %d at %d ends at %d, past the %d bytes of data", max, frames, off, end, len(data))
		case &body[0] != &data[off+disk.FrameHeader]:
			t.Fatalf("maxBody %d: frame %d at %d: the body is not data's bytes after the frame header", max, frames, off)
		case binary.LittleEndian.Uint32(data[off:]) != uint32(len(body)):
			t.Fatalf("maxBody %d: frame %d at %d: length field %d, body of %d", max, frames, off, binary.LittleEndian.Uint32(data[off:]), len(body))
		case binary.LittleEndian.Uint32(data[off+4:]) != crc32.Checksum(body, castagnoli):
			t.Fatalf("maxBody %d: frame %d at %d: the checksum does not match the body", max, frames, off)
		}
		next, frames = end, frames+1
		return nil
	})
	var de *disk.DamageError
	if !goodHeader(data, disk.KindLog) {
		if err == nil || frames != 0 || s != (disk.Scan{}) {
			t.Fatalf("maxBody %d: a bad header: %+v, %v after %d frames", max, s, err, frames)
		}
		if errors.As(err, &de) && (de.File != "fuzz" || de.Offset != 0) {
			t.Fatalf("maxBody %d: a bad header: %v", max, err)
		}
		return
	}
	if s.Frames != frames || s.End != next {
		t.Fatalf("maxBody %d: %+v, but fn had %d frames ending at %d", max, s, frames, next)
	}
	tail := data[s.End:]
	switch {
	case errors.As(err, &de):
		if de.File != "fuzz" || de.Offset != s.End || s.TornBytes != 0 || lastNonZero(tail) == 0 {
			t.Fatalf("maxBody %d: %+v, %v", max, s, err)
		}
	case err != nil:
		t.Fatalf("maxBody %d: %v", max, err)
	case s.TornBytes != lastNonZero(tail):
		t.Fatalf("maxBody %d: %+v: %d bytes are not zero after End", max, s, lastNonZero(tail))
	}
}

func FuzzReadSnapshot(f *testing.F) {
	empty := readFile(f, writeSnapshot(f, []byte{1}, nil))
	some := readFile(f, writeSnapshot(f, []byte("meta"), bodiesOf(5, 0, 30, 2)))
	claim := append(slices.Clone(some[:disk.HeaderSize]), 0, 0, 0x10, 0, 1, 2, 3, 4, 'x') // a block of 1 MiB in 41 bytes
	zipped := readFile(f, writeSnapshot(f, []byte("meta"), sessionBodies(40)))            // compressed blocks
	for _, seed := range [][]byte{
		empty, some, claim, zipped,
		some[:len(some)-3],
		append(slices.Clone(some), 0),
		readFile(f, writeLog(f, disk.LogOptions{}, bodiesOf(9))), // the wrong kind
	} {
		f.Add(seed)
	}
	// Each fuzzing process runs one input at a time, so one file will do.
	path := filepath.Join(f.TempDir(), "snapshot.000001")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSnapshot(t, path, data, 1<<20)
		checkSnapshot(t, path, append(header(disk.KindSnapshot, disk.FormatVersion, 1), data...), 8)
	})
}

// checkSnapshot reads data as a snapshot and checks what must hold of any
// input: the metadata comes once, first; every body is within maxBody and
// all of them within what the file's blocks can hold, decompressed (a block
// of at least 9 bytes, at most 256 KiB or one record once decompressed);
// the count is the records passed on; what is not a snapshot is a
// *DamageError (or a later version).
func checkSnapshot(t *testing.T, path string, data []byte, max int) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	metas, records, total := 0, uint64(0), 0
	bound := len(data) + len(data)/9*(256<<10+4+max) // a decompressed block: at most the larger of the two
	count, err := disk.ReadSnapshot(path, max, func(m []byte) error {
		if metas++; metas > 1 || records > 0 || len(m) == 0 || len(m) > bound {
			t.Fatalf("meta call %d, after %d records, with %d bytes", metas, records, len(m))
		}
		total += len(m)
		return nil
	}, func(body []byte) error {
		if records++; metas != 1 || len(body) > max {
			t.Fatalf("record %d of %d bytes after %d metas", records, len(body), metas)
		}
		if total += 4 + len(body); total > bound {
			t.Fatalf("records of %d bytes in all from a file of %d", total, len(data))
		}
		return nil
	})
	if count != records {
		t.Fatalf("count %d, fn had %d", count, records)
	}
	var de *disk.DamageError
	switch {
	case err == nil:
		if metas != 1 || !goodHeader(data, disk.KindSnapshot) {
			t.Fatalf("a snapshot read with %d metas", metas)
		}
	case errors.As(err, &de):
		if de.File != path || de.Offset < 0 || de.Offset > int64(len(data)) {
			t.Fatalf("damage %v in a file of %d bytes", err, len(data))
		}
	case !strings.Contains(err.Error(), "format version") || readable(binary.LittleEndian.Uint32(data[12:16])):
		t.Fatalf("ReadSnapshot: %v", err)
	}
}
