//go:build unix

package disk_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sessiond/sessiond/internal/disk"
	"github.com/sessiond/sessiond/internal/lz"
)

// maxBody is the longest body the tests' scans and reads accept: more than
// any frame or record they write.
const maxBody = 8 << 20

// bodyOf returns n bytes of noise, the same for the same i and n.
func bodyOf(i, n int) []byte {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(i))
	binary.LittleEndian.PutUint64(seed[8:], uint64(n))
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

// bodiesOf returns a body of each size.
func bodiesOf(sizes ...int) [][]byte {
	bs := make([][]byte, len(sizes))
	for i, n := range sizes {
		bs[i] = bodyOf(i, n)
	}
	return bs
}

// frameOffsets returns where each body's frame starts in a log that holds
// them in order, and where the last one ends.
func frameOffsets(bodies [][]byte) (offs []int64, end int64) {
	end = disk.HeaderSize
	for _, b := range bodies {
		offs = append(offs, end)
		end += disk.FrameHeader + int64(len(b))
	}
	return offs, end
}

// appendFrames frames each body and appends it, one Append a frame, or
// all in one when batch is set.
func appendFrames(t testing.TB, l *disk.Log, bodies [][]byte, batch ...bool) {
	t.Helper()
	var buf []byte
	for i, b := range bodies {
		start := l.End()
		var room []byte
		buf, room = disk.AppendFrame(buf, len(b))
		if len(room) != len(b) {
			t.Fatalf("AppendFrame(%d) returned %d bytes", len(b), len(room))
		}
		copy(room, b)
		disk.SealFrame(buf, room)
		if len(batch) > 0 && batch[0] {
			continue
		}
		if err := l.Append(buf); err != nil {
			t.Fatalf("Append of frame %d: %v", i, err)
		}
		buf = buf[:0]
		if got, want := l.End(), start+disk.FrameHeader+int64(len(b)); got != want {
			t.Fatalf("after frame %d End() = %d, want %d", i, got, want)
		}
	}
	if len(buf) > 0 {
		start := l.End()
		if err := l.Append(buf); err != nil {
			t.Fatalf("Append of %d frames: %v", len(bodies), err)
		}
		if l.End() != start+int64(len(buf)) {
			t.Fatalf("after a batch End() = %d, want %d", l.End(), start+int64(len(buf)))
		}
	}
}

// writeLog writes a closed log of the bodies and returns its path.
func writeLog(t testing.TB, o disk.LogOptions, bodies [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.000001")
	l, err := disk.CreateLog(path, 1, o)
	if err != nil {
		t.Fatal(err)
	}
	appendFrames(t, l, bodies)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scanned is what ScanLog gave: the bodies and offsets passed to fn
// (copied), and its results.
type scanned struct {
	bodies [][]byte
	offs   []int64
	scan   disk.Scan
	err    error
}

func scanLog(file string, data []byte, max int, plausible func([]byte) bool) scanned {
	var s scanned
	s.scan, s.err = disk.ScanLog(file, data, max, plausible, func(off int64, body []byte) error {
		s.offs = append(s.offs, off)
		s.bodies = append(s.bodies, bytes.Clone(body))
		return nil
	})
	return s
}

// checkFrames checks that fn had exactly the bodies, at their offsets.
func (s scanned) checkFrames(t *testing.T, bodies [][]byte) {
	t.Helper()
	offs, _ := frameOffsets(bodies)
	if len(s.bodies) != len(bodies) {
		t.Fatalf("fn had %d bodies, want %d", len(s.bodies), len(bodies))
	}
	for i := range bodies {
		if !bytes.Equal(s.bodies[i], bodies[i]) {
			t.Fatalf("body %d (%d bytes) differs from the one written (%d bytes)", i, len(s.bodies[i]), len(bodies[i]))
		}
		if s.offs[i] != offs[i] {
			t.Fatalf("body %d at offset %d, want %d", i, s.offs[i], offs[i])
		}
	}
	if s.scan.Frames != len(bodies) {
		t.Fatalf("Scan.Frames = %d, want %d", s.scan.Frames, len(bodies))
	}
}

// checkOpenLog checks that the open log at path scans as exactly the
// bodies' frames, then zeros (preallocated, or written ahead): what a
// crash of the process leaves.
func checkOpenLog(t *testing.T, path string, bodies [][]byte) {
	t.Helper()
	_, end := frameOffsets(bodies)
	s := scanLog(path, readFile(t, path), maxBody, nil)
	if s.err != nil || s.scan.End != end || s.scan.TornBytes != 0 {
		t.Fatalf("scan of the open log: %+v, %v; want End %d", s.scan, s.err, end)
	}
	s.checkFrames(t, bodies)
}

// closeAndCheck closes l and checks that the file at path is exactly the
// bodies' frames: Close cut any zeros after them.
func closeAndCheck(t *testing.T, l *disk.Log, path string, bodies [][]byte) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, end := frameOffsets(bodies)
	data := readFile(t, path)
	if int64(len(data)) != end {
		t.Fatalf("Close left %d bytes, want End %d", len(data), end)
	}
	s := scanLog(path, data, maxBody, nil)
	if s.err != nil || s.scan.End != end || s.scan.TornBytes != 0 {
		t.Fatalf("scan of the closed log: %+v, %v; want End %d", s.scan, s.err, end)
	}
	s.checkFrames(t, bodies)
}

// lastNonZero is the length of b up to its last byte that is not zero: the
// torn bytes ScanLog should report for a tail b.
func lastNonZero(b []byte) int64 {
	i := len(b)
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return int64(i)
}

// header builds a file header by hand, as the package doc lays it out.
func header(k disk.Kind, version uint32, gen uint64) []byte {
	h := make([]byte, disk.HeaderSize)
	copy(h, "sessiond")
	copy(h[8:], k[:])
	binary.LittleEndian.PutUint32(h[12:], version)
	binary.LittleEndian.PutUint64(h[16:], gen)
	binary.LittleEndian.PutUint32(h[28:], disk.Checksum(h[:28]))
	return h
}

func TestLogRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		batch bool
	}{
		{"one-byte frames", slices.Repeat([]int{1}, 50), false},
		{"frames of many sizes", []int{1, 2, 7, 8, 9, 255, 256, 4087, 4088, 4096, 4097, 65536}, false},
		{"large frames", []int{3 << 20, 2 << 20, 1, 4<<20 - 8}, false},
		{"many frames in one Append", []int{1, 100, 1000, 10, 5000, 63, 64, 65}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodies := bodiesOf(tt.sizes...)
			_, end := frameOffsets(bodies)
			path := filepath.Join(t.TempDir(), "log.000007")
			l, err := disk.CreateLog(path, 7, disk.LogOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if l.Gen() != 7 || l.Path() != path || l.End() != disk.HeaderSize {
				t.Fatalf("new log: Gen %d, Path %q, End %d", l.Gen(), l.Path(), l.End())
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("CreateLog left %s.tmp: %v", path, err)
			}
			appendFrames(t, l, bodies, tt.batch)
			if l.End() != end {
				t.Fatalf("End() = %d, want %d", l.End(), end)
			}
			checkOpenLog(t, path, bodies)
			closeAndCheck(t, l, path, bodies)
		})
	}
}

// hook is a WriteAt or Sync that fails while err is set; a WriteAt with
// short set writes half of p first, as a disk filling up does.
type hook struct {
	err   error
	short bool
}

func (h *hook) writeAt(f *os.File, p []byte, off int64) (int, error) {
	if h.err == nil {
		return f.WriteAt(p, off)
	}
	n := 0
	if h.short {
		n, _ = f.WriteAt(p[:len(p)/2], off)
	}
	return n, h.err
}

func (h *hook) sync(f *os.File) error {
	if h.err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: h.err}
	}
	return nil
}

// TestLogWriteFails: a write the disk refuses, whole or half-done, leaves
// the log ending at its last whole frame, on disk too; the log takes
// frames again once the disk does.
func TestLogWriteFails(t *testing.T) {
	for _, short := range []bool{false, true} {
		t.Run(fmt.Sprintf("short=%v", short), func(t *testing.T) {
			write, sync := hook{short: short}, hook{}
			path := filepath.Join(t.TempDir(), "log.000001")
			l, err := disk.CreateLog(path, 1, disk.LogOptions{WriteAt: write.writeAt, Sync: sync.sync})
			if err != nil {
				t.Fatal(err)
			}
			bodies := bodiesOf(100, 10, 5000, 9000)
			appendFrames(t, l, bodies[:1])
			write.err = syscall.ENOSPC
			end := l.End()
			buf, room := disk.AppendFrame(nil, 5000)
			disk.SealFrame(buf, room)
			if err := l.Append(buf); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Append on a full disk: %v, want ENOSPC naming %s", err, path)
			}
			if l.End() != end {
				t.Fatalf("a failed Append moved End %d -> %d", end, l.End())
			}
			if data := readFile(t, path); int64(len(data)) < end || lastNonZero(data) > end {
				t.Fatalf("a failed Append left %d bytes, non-zero up to %d; want the frames up to %d, then nothing or zeros", len(data), lastNonZero(data), end)
			}
			sync.err = syscall.EIO
			if err := l.Sync(); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Sync with a failing fdatasync: %v, want EIO", err)
			}
			write.err, sync.err = nil, nil
			appendFrames(t, l, bodies[1:])
			closeAndCheck(t, l, path, bodies)
		})
	}
}

func TestCreateLogFails(t *testing.T) {
	tests := []struct {
		name          string
		write, sync   error
		wantErrorLike error
	}{
		{"writing the header fails", syscall.ENOSPC, nil, syscall.ENOSPC},
		{"syncing fails", nil, syscall.EIO, syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write, sync := hook{err: tt.write}, hook{err: tt.sync}
			dir := t.TempDir()
			path := filepath.Join(dir, "log.000001")
			l, err := disk.CreateLog(path, 1, disk.LogOptions{WriteAt: write.writeAt, Sync: sync.sync})
			if !errors.Is(err, tt.wantErrorLike) {
				t.Fatalf("CreateLog: %v, %v; want %v", l, err, tt.wantErrorLike)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("a failed CreateLog left %v", ents)
			}
		})
	}
}

func TestScanLogHeader(t *testing.T) {
	good := readFile(t, writeLog(t, disk.LogOptions{}, bodiesOf(10)))
	snap := readFile(t, writeSnapshot(t, []byte("meta"), nil))
	with := func(b []byte, f func([]byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		return b
	}
	future := append(header(disk.KindLog, disk.FormatVersion+1, 1), good[disk.HeaderSize:]...)
	tests := []struct {
		name   string
		data   []byte
		damage bool   // a *DamageError at offset 0; else another error
		reason string // in the error
	}{
		{"no data", nil, true, "shorter than its header"},
		{"shorter than a header", good[:disk.HeaderSize-1], true, "shorter than its header"},
		{"wrong magic", with(good, func(b []byte) { b[0] = 'S' }), true, "not a sessiond log"},
		{"a snapshot", snap, true, "not a sessiond log"},
		{"generation changed", with(good, func(b []byte) { b[16] ^= 1 }), true, "header checksum"},
		{"header checksum changed", with(good, func(b []byte) { b[31] ^= 0x80 }), true, "header checksum"},
		{"version changed, checksum not", with(good, func(b []byte) { b[12]++ }), true, "header checksum"},
		{"a later format version", future, false, fmt.Sprintf("format version %d", disk.FormatVersion+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scanLog("log.000001", tt.data, maxBody, nil)
			if s.err == nil {
				t.Fatalf("ScanLog succeeded: %+v", s.scan)
			}
			var de *disk.DamageError
			if isDamage := errors.As(s.err, &de); isDamage != tt.damage {
				t.Fatalf("error %v: a *DamageError is %v, want %v", s.err, isDamage, tt.damage)
			}
			if de != nil && (de.File != "log.000001" || de.Offset != 0) {
				t.Errorf("damage in %q at %d, want log.000001 at 0", de.File, de.Offset)
			}
			if !strings.Contains(s.err.Error(), tt.reason) || !strings.Contains(s.err.Error(), "log.000001") {
				t.Errorf("error %q does not say %q of log.000001", s.err, tt.reason)
			}
			if len(s.bodies) != 0 {
				t.Errorf("fn had %d bodies", len(s.bodies))
			}
		})
	}
}

func TestScanLogTornTail(t *testing.T) {
	bodies := bodiesOf(10, 300, 5, 700)
	full := readFile(t, writeLog(t, disk.LogOptions{}, bodies))
	offs, end := frameOffsets(bodies)
	last := offs[len(offs)-1]

	// check scans data, whose first good frames are bodies[:good].
	check := func(t *testing.T, data []byte, good int, want disk.Scan) {
		t.Helper()
		s := scanLog("log", data, maxBody, nil)
		if s.err != nil {
			t.Fatalf("ScanLog: %v", s.err)
		}
		if s.scan != want {
			t.Fatalf("Scan = %+v, want %+v", s.scan, want)
		}
		s.checkFrames(t, bodies[:good])
	}

	t.Run("cut at every offset of the last frame", func(t *testing.T) {
		for cut := last; cut < end; cut++ {
			data := full[:cut]
			want := disk.Scan{End: last, Frames: len(bodies) - 1, TornBytes: lastNonZero(full[last:cut])}
			if cut > last+4 && want.TornBytes == 0 {
				t.Fatalf("bad test: a cut at %d leaves no junk", cut)
			}
			check(t, data, len(bodies)-1, want)
			// As a crash leaves an open log: the cut, then the zeros
			// preallocated.
			check(t, append(slices.Clone(data), make([]byte, 4096)...), len(bodies)-1, want)
		}
	})
	t.Run("random bytes after the end", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, n := range []int{1, 3, 7, 8, 9, 100, 4096, 65536} {
			for _, zeros := range []int{0, 1, 4096} {
				junk := make([]byte, zeros+n)
				for i := zeros; i < len(junk); i++ {
					junk[i] = byte(r.Uint32())
				}
				want := disk.Scan{End: end, Frames: len(bodies), TornBytes: lastNonZero(junk)}
				if want.TornBytes == 0 {
					continue
				}
				check(t, append(slices.Clone(full), junk...), len(bodies), want)
			}
		}
	})
	t.Run("the last frame longer than its file", func(t *testing.T) {
		// Its length says more than the file holds: a crash before the
		// body reached the disk.
		data := slices.Clone(full)
		binary.LittleEndian.PutUint32(data[last:], 701)
		check(t, data, len(bodies)-1, disk.Scan{End: last, Frames: len(bodies) - 1, TornBytes: lastNonZero(data[last:])})
	})
	t.Run("a frame header with no body", func(t *testing.T) {
		data := append(slices.Clone(full), 1, 0, 0, 0, 9, 9, 9, 9)
		check(t, data, len(bodies), disk.Scan{End: end, Frames: len(bodies), TornBytes: 8})
	})
}

func TestScanLogDamage(t *testing.T) {
	bodies := bodiesOf(10, 300, 5, 700, 20, 1, 40)
	closed := readFile(t, writeLog(t, disk.LogOptions{}, bodies))
	open := append(slices.Clone(closed), make([]byte, 1<<16)...)
	offs, _ := frameOffsets(bodies)

	type flip struct {
		name string
		at   func(frame int) int64 // the byte to flip, from the frame's offset
		mask byte
	}
	flips := []flip{
		{"the body's first byte", func(int) int64 { return disk.FrameHeader }, 0x01},
		{"the body's last byte", func(i int) int64 { return disk.FrameHeader + int64(len(bodies[i])) - 1 }, 0x80},
		{"the checksum", func(int) int64 { return 4 }, 0x10},
	}
	for b := range int64(4) {
		for _, mask := range []byte{0x01, 0x80} {
			flips = append(flips, flip{fmt.Sprintf("length byte %d by %#x", b, mask), func(int) int64 { return b }, mask})
		}
	}
	for _, log := range []struct {
		name string
		data []byte
		max  int
	}{{"closed log", closed, maxBody}, {"open log", open, maxBody}, {"no bound on bodies", closed, math.MaxInt}} {
		for frame := 1; frame < len(bodies)-1; frame++ {
			for _, f := range flips {
				t.Run(fmt.Sprintf("%s/frame %d/%s", log.name, frame, f.name), func(t *testing.T) {
					data := slices.Clone(log.data)
					data[offs[frame]+f.at(frame)] ^= f.mask
					s := scanLog("log.000003", data, log.max, nil)
					var de *disk.DamageError
					if !errors.As(s.err, &de) {
						t.Fatalf("ScanLog: %+v, %v; want a *DamageError", s.scan, s.err)
					}
					if de.File != "log.000003" || de.Offset != offs[frame] {
						t.Fatalf("damage in %q at %d, want log.000003 at %d", de.File, de.Offset, offs[frame])
					}
					if s.scan.End != offs[frame] {
						t.Fatalf("Scan.End = %d, want %d", s.scan.End, offs[frame])
					}
					s.checkFrames(t, bodies[:frame])
				})
			}
		}
	}

	// A frame longer than maxBody is not a frame this store wrote with its
	// limits; a good one is damage, never a torn tail to cut off silently.
	t.Run("a good frame longer than maxBody", func(t *testing.T) {
		for frame, off := range offs {
			for _, data := range [][]byte{closed, open} {
				s := scanLog("log.000003", data, len(bodies[frame])-1, nil)
				var de *disk.DamageError
				if !errors.As(s.err, &de) || de.Offset > off {
					t.Fatalf("frame %d of %d bytes with maxBody %d: %+v, %v; want damage at or before %d",
						frame, len(bodies[frame]), len(bodies[frame])-1, s.scan, s.err, off)
				}
			}
		}
	})

	// plausible keeps a chance look-alike from turning a torn tail into
	// damage: one that says no to every body leaves only torn tails.
	t.Run("plausible says no", func(t *testing.T) {
		data := slices.Clone(closed)
		data[offs[2]+disk.FrameHeader] ^= 1
		s := scanLog("log.000003", data, maxBody, func([]byte) bool { return false })
		if s.err != nil || s.scan.End != offs[2] || s.scan.TornBytes != lastNonZero(data[offs[2]:]) {
			t.Fatalf("ScanLog: %+v, %v; want a torn tail from %d", s.scan, s.err, offs[2])
		}
	})
}

func TestScanLogStops(t *testing.T) {
	bodies := bodiesOf(1, 2, 3)
	data := readFile(t, writeLog(t, disk.LogOptions{}, bodies))
	stop := errors.New("stop")
	calls := 0
	_, err := disk.ScanLog("log", data, maxBody, nil, func(int64, []byte) error {
		if calls++; calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("ScanLog: %v after %d calls; want fn's error after 2", err, calls)
	}
}

// writeSnapshot writes a snapshot of generation 1 and returns its path.
func writeSnapshot(t testing.TB, meta []byte, records [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snapshot.000001")
	w, err := disk.CreateSnapshot(path, 1, meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range records {
		room, err := w.Add(len(r))
		if err != nil {
			t.Fatalf("Add(%d) for record %d: %v", len(r), i, err)
		}
		if len(room) != len(r) {
			t.Fatalf("Add(%d) returned %d bytes", len(r), len(room))
		}
		copy(room, r)
	}
	if w.Count() != uint64(len(records)) {
		t.Fatalf("Count() = %d, want %d", w.Count(), len(records))
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != w.Size() {
		t.Fatalf("snapshot on disk: %v; Size() = %d", err, w.Size())
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Commit left %s.tmp: %v", path, err)
	}
	return path
}

// snapshot is what ReadSnapshot gave.
type snapshot struct {
	meta    []byte
	metas   int // calls of meta
	records [][]byte
	count   uint64
	err     error
}

func readSnapshot(path string, max int) snapshot {
	var s snapshot
	s.count, s.err = disk.ReadSnapshot(path, max, func(m []byte) error {
		s.meta = bytes.Clone(m)
		s.metas++
		return nil
	}, func(body []byte) error {
		s.records = append(s.records, bytes.Clone(body))
		return nil
	})
	return s
}

// blockStarts returns the offset of each block of a snapshot, the final
// one last.
func blockStarts(t *testing.T, data []byte) []int64 {
	t.Helper()
	var starts []int64
	for off := int64(disk.HeaderSize); ; {
		starts = append(starts, off)
		n := int64(binary.LittleEndian.Uint32(data[off:]) &^ (1 << 31)) // the top bit: compressed
		if n == 0 {
			return starts
		}
		off += 8 + n
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	many := make([]int, 3000)
	for i := range many {
		many[i] = i % 400
	}
	tests := []struct {
		name  string
		meta  []byte
		sizes []int
	}{
		{"no records", []byte{1}, nil},
		{"one record", []byte("meta"), []int{10}},
		{"empty records", []byte("meta"), []int{0, 0, 5, 0}},
		{"records over several blocks", bytes.Repeat([]byte("m"), 1000), many},
		{"a record larger than a block", []byte("meta"), []int{300 << 10}},
		{"a large record between small ones", []byte("meta"), []int{5, 1 << 20, 7, 256<<10 - 4, 256 << 10, 3}},
		{"large metadata", bodyOf(99, 600<<10), []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			records := bodiesOf(tt.sizes...)
			path := writeSnapshot(t, tt.meta, records)
			s := readSnapshot(path, maxBody)
			if s.err != nil {
				t.Fatal(s.err)
			}
			if s.metas != 1 || !bytes.Equal(s.meta, tt.meta) {
				t.Fatalf("meta called %d times, last with %d bytes; want once with %d", s.metas, len(s.meta), len(tt.meta))
			}
			if s.count != uint64(len(records)) || len(s.records) != len(records) {
				t.Fatalf("count %d, %d records; want %d", s.count, len(s.records), len(records))
			}
			for i := range records {
				if !bytes.Equal(s.records[i], records[i]) {
					t.Fatalf("record %d (%d bytes) differs from the one written (%d bytes)", i, len(s.records[i]), len(records[i]))
				}
			}
		})
	}
}

func TestSnapshotTruncated(t *testing.T) {
	// The first record fills a block to its target, so that the last two
	// go in a small block of their own.
	records := bodiesOf(64<<10-4, 20, 30)
	path := writeSnapshot(t, []byte("meta"), records)
	data := readFile(t, path)
	starts := blockStarts(t, data)
	if len(starts) != 4 {
		t.Fatalf("the snapshot has %d blocks, want metadata, two of records and the final one", len(starts))
	}
	meta, first, last := starts[0], starts[1], starts[2]

	var cuts []int64
	for c := range meta + 16 {
		cuts = append(cuts, c) // in the header and the metadata
	}
	cuts = append(cuts, first, first+4, first+8, first+9, first+40<<10, last-1)
	for c := last; c < int64(len(data)); c++ {
		cuts = append(cuts, c) // the last block of records, and the final one
	}
	slices.Sort(cuts)
	slices.Reverse(cuts) // to cut one file shorter and shorter
	for _, cut := range cuts {
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		s := readSnapshot(path, maxBody)
		var de *disk.DamageError
		if !errors.As(s.err, &de) {
			t.Fatalf("cut at %d: %d records, %v; want a *DamageError", cut, len(s.records), s.err)
		}
		if de.File != path || de.Offset > cut || !strings.Contains(de.Reason, "truncated") {
			t.Fatalf("cut at %d: %v; want damage in %s at or before %d that says truncated", cut, de, path, cut)
		}
		if int(s.count) != len(s.records) || len(s.records) > len(records) {
			t.Fatalf("cut at %d: count %d, %d records", cut, s.count, len(s.records))
		}
		for i := range s.records {
			if !bytes.Equal(s.records[i], records[i]) {
				t.Fatalf("cut at %d: record %d differs", cut, i)
			}
		}
	}
}

func TestSnapshotFlippedByte(t *testing.T) {
	path := writeSnapshot(t, []byte("meta"), bodiesOf(5, 0, 9, 1))
	data := readFile(t, path)
	bad := filepath.Join(t.TempDir(), "snapshot.000001")
	for at := range data {
		for _, mask := range []byte{0x01, 0x08, 0x80, 0xff} {
			b := slices.Clone(data)
			b[at] ^= mask
			if err := os.WriteFile(bad, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s := readSnapshot(bad, maxBody)
			var de *disk.DamageError
			if !errors.As(s.err, &de) || de.File != bad {
				t.Fatalf("byte %d ^ %#x: %d records, %v; want a *DamageError", at, mask, len(s.records), s.err)
			}
		}
	}
}

// sblock is a snapshot block of payload p, its checksum good.
func sblock(p []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
	b = binary.LittleEndian.AppendUint32(b, disk.Checksum(p))
	return append(b, p...)
}

// zblock is a compressed snapshot block that stores p, its checksum good.
func zblock(p []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(p))|1<<31)
	b = binary.LittleEndian.AppendUint32(b, disk.Checksum(p))
	return append(b, p...)
}

// compressed is what a compressed block stores for payload p.
func compressed(t *testing.T, p []byte) []byte {
	z, ok := lz.Compress(binary.LittleEndian.AppendUint32(nil, uint32(len(p))), p)
	if !ok {
		t.Fatalf("%q does not compress", p)
	}
	return z
}

// longer makes a compressed block's stored length claim one byte more.
func longer(z []byte) []byte {
	binary.LittleEndian.PutUint32(z, binary.LittleEndian.Uint32(z)+1)
	return z
}

// records is a block's payload of the bodies.
func records(bodies ...[]byte) []byte {
	var p []byte
	for _, b := range bodies {
		p = binary.LittleEndian.AppendUint32(p, uint32(len(b)))
		p = append(p, b...)
	}
	return p
}

// final is a snapshot's final block, counting n records.
func final(n uint64) []byte {
	c := binary.LittleEndian.AppendUint64(nil, n)
	b := binary.LittleEndian.AppendUint32(nil, 0)
	b = binary.LittleEndian.AppendUint32(b, disk.Checksum(c))
	return append(b, c...)
}

func TestReadSnapshotDamage(t *testing.T) {
	h := header(disk.KindSnapshot, disk.FormatVersion, 1)
	m := sblock([]byte("meta"))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	at := func(parts ...[]byte) int64 { return int64(len(cat(parts...))) }
	claim := func(n uint32) []byte { // a block header that claims n bytes
		return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, n), 0x12345678)
	}
	badSum := sblock(records([]byte("abc")))
	badSum[5] ^= 1
	badFinal := final(1)
	badFinal[15] ^= 1
	tests := []struct {
		name   string
		data   []byte
		max    int
		offset int64
		reason string
	}{
		{"well formed", cat(h, m, sblock(records([]byte("abc"), nil)), final(2)), 10, -1, ""},
		{"format version 1 (before compressed blocks)", cat(header(disk.KindSnapshot, 1, 1), m, sblock(records([]byte("abc"), nil)), final(2)), 10, -1, ""},
		{"a block claims 1 MiB in a tiny file", cat(h, m, claim(1<<20), []byte("short")), 10, at(h, m), "runs past the end"},
		{"a block claims 4 GiB", cat(h, m, claim(1<<32-1), final(0)), 10, at(h, m), "runs past the end"},
		{"the metadata block claims 1 MiB", cat(h, claim(1<<20), final(0)), 10, at(h), "runs past the end"},
		{"a block checksum", cat(h, m, badSum, final(1)), 10, at(h, m), "block checksum"},
		{"a record longer than its block", cat(h, m, sblock(binary.LittleEndian.AppendUint32(nil, 1000)), final(1)), 2000, at(h, m), "record of 1000 bytes"},
		{"a record claims 2 GiB", cat(h, m, sblock(binary.LittleEndian.AppendUint32(nil, 1<<31)), final(1)), 10, at(h, m), "record of 2147483648 bytes"},
		{"a record claims 4 GiB", cat(h, m, sblock(binary.LittleEndian.AppendUint32(nil, 1<<32-1)), final(1)), 10, at(h, m), "record of 4294967295 bytes"},
		{"a record longer than maxBody", cat(h, m, sblock(records(make([]byte, 11))), final(1)), 10, at(h, m), "record of 11 bytes"},
		{"a record length cut short", cat(h, m, sblock(append(records([]byte("a")), 1, 0)), final(2)), 10, at(h, m), "record length cut short"},
		{"the final block's checksum", cat(h, m, sblock(records([]byte("a"))), badFinal), 10, at(h, m, sblock(records([]byte("a")))), "final block checksum"},
		{"the final count", cat(h, m, sblock(records([]byte("a"))), final(2)), 10, at(h, m, sblock(records([]byte("a")))), "counts 2 records"},
		{"a byte after the final block", cat(h, m, final(0), []byte{0}), 10, at(h, m, final(0)), "1 bytes after the final block"},
		{"a block after the final block", cat(h, m, final(0), sblock(records([]byte("a")))), 10, at(h, m, final(0)), "after the final block"},
		{"no metadata block", cat(h, final(0)), 10, at(h), "metadata"},
		{"a compressed block", cat(h, m, zblock(compressed(t, records(bytes.Repeat([]byte("abc"), 20), nil))), final(2)), 100, -1, ""},
		{"a compressed block that does not decompress", cat(h, m, zblock(append(binary.LittleEndian.AppendUint32(nil, 10), 0x10, 'a', 0, 0)), final(0)), 10, at(h, m), "does not decompress"},
		{"a compressed block shorter than it says", cat(h, m, zblock(longer(compressed(t, records(bytes.Repeat([]byte("abc"), 20))))), final(1)), 100, at(h, m), "does not decompress"},
		{"a compressed block claims 1 GiB", cat(h, m, zblock(append(binary.LittleEndian.AppendUint32(nil, 1<<30), 0x10, 'a')), final(0)), 10, at(h, m), "impossible size"},
		{"a compressed block shorter than its length", cat(h, m, zblock([]byte{1, 2}), final(0)), 10, at(h, m), "impossible size"},
		{"only a header", h, 10, at(h), "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "snapshot.000001")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s := readSnapshot(path, tt.max)
			if tt.offset < 0 {
				if s.err != nil || s.count != 2 || s.metas != 1 {
					t.Fatalf("ReadSnapshot: %d metas, count %d, %v", s.metas, s.count, s.err)
				}
				return
			}
			var de *disk.DamageError
			if !errors.As(s.err, &de) {
				t.Fatalf("ReadSnapshot: count %d, %v; want a *DamageError", s.count, s.err)
			}
			if de.File != path || de.Offset != tt.offset || !strings.Contains(de.Reason, tt.reason) {
				t.Fatalf("%v; want damage at %d that says %q", de, tt.offset, tt.reason)
			}
		})
	}
}

func TestReadSnapshotHeader(t *testing.T) {
	good := readFile(t, writeSnapshot(t, []byte("meta"), bodiesOf(3)))
	log := readFile(t, writeLog(t, disk.LogOptions{}, bodiesOf(3)))
	future := append(header(disk.KindSnapshot, disk.FormatVersion+1, 1), good[disk.HeaderSize:]...)
	flipped := slices.Clone(good)
	flipped[20] ^= 4
	tests := []struct {
		name   string
		data   []byte
		damage bool
		reason string
	}{
		{"empty", nil, true, "truncated"},
		{"half a header", good[:16], true, "truncated"},
		{"a log", log, true, "not a sessiond snapshot"},
		{"a header byte", flipped, true, "header checksum"},
		{"a later format version", future, false, fmt.Sprintf("format version %d", disk.FormatVersion+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "snapshot.000001")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s := readSnapshot(path, maxBody)
			var de *disk.DamageError
			if s.err == nil || errors.As(s.err, &de) != tt.damage || !strings.Contains(s.err.Error(), tt.reason) {
				t.Fatalf("ReadSnapshot: %v; want an error that says %q (damage: %v)", s.err, tt.reason, tt.damage)
			}
			if s.metas != 0 || len(s.records) != 0 {
				t.Fatalf("ReadSnapshot passed on %d metas and %d records", s.metas, len(s.records))
			}
		})
	}
	if _, err := disk.ReadSnapshot(filepath.Join(t.TempDir(), "none"), maxBody, nil, nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadSnapshot of a missing file: %v", err)
	}
}

func TestReadSnapshotStops(t *testing.T) {
	path := writeSnapshot(t, []byte("meta"), bodiesOf(1, 2, 3))
	stop := errors.New("stop")
	if _, err := disk.ReadSnapshot(path, maxBody, func([]byte) error { return stop }, nil); err != stop {
		t.Fatalf("meta's error: ReadSnapshot returned %v", err)
	}
	calls := 0
	count, err := disk.ReadSnapshot(path, maxBody, func([]byte) error { return nil }, func([]byte) error {
		if calls++; calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 || count != 1 {
		t.Fatalf("fn's error: ReadSnapshot returned %d, %v after %d calls", count, err, calls)
	}
}

func TestSnapshotTrailingBytes(t *testing.T) {
	path := writeSnapshot(t, []byte("meta"), bodiesOf(4, 5))
	size := int64(len(readFile(t, path)))
	for _, tail := range [][]byte{{0}, {1}, make([]byte, 100), final(2)} {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Write(tail)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		s := readSnapshot(path, maxBody)
		var de *disk.DamageError
		if !errors.As(s.err, &de) || de.Offset != size || !strings.Contains(de.Reason, "after the final block") {
			t.Fatalf("%d bytes after the final block: %v; want damage at %d", len(tail), s.err, size)
		}
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSnapshotAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.000002")
	w, err := disk.CreateSnapshot(path, 2, []byte("meta"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		room, err := w.Add(10 << 10)
		if err != nil {
			t.Fatal(err)
		}
		copy(room, bodyOf(i, len(room)))
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("Abort left %v", ents)
	}
}

func TestCreateSnapshotEmptyMeta(t *testing.T) {
	dir := t.TempDir()
	for _, meta := range [][]byte{nil, {}} {
		if w, err := disk.CreateSnapshot(filepath.Join(dir, "snapshot.000001"), 1, meta, nil); err == nil {
			w.Abort()
			t.Fatalf("CreateSnapshot with %#v metadata succeeded", meta)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a refused CreateSnapshot left %v", ents)
	}
}

func TestSnapshotCommitSyncFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.000001")
	sync := hook{err: syscall.EIO}
	w, err := disk.CreateSnapshot(path, 1, []byte("meta"), sync.sync)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Add(3); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Commit with a failing fdatasync: %v; want EIO naming %s", err, path)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("a failed Commit left %v", ents)
	}
}

func TestOpenDirLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "sessiond")
	d, err := disk.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Path() != path {
		t.Fatalf("Path() = %q, want %q", d.Path(), path)
	}
	if b := readFile(t, filepath.Join(path, "LOCK")); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("LOCK holds %q, want this process's pid", b)
	}

	// flock locks belong to an open file description, so a second open in
	// this process is refused as another process would be.
	d2, err := disk.OpenDir(path)
	var le *disk.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("a second OpenDir: %v, %v; want a *LockedError", d2, err)
	}
	if le.Dir != path || le.PID != os.Getpid() {
		t.Fatalf("LockedError{Dir: %q, PID: %d}, want %q and %d", le.Dir, le.PID, path, os.Getpid())
	}
	if want := fmt.Sprintf("data directory %s is in use by process %d", path, os.Getpid()); err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}

	// A lock file that does not say who holds it.
	if err := os.WriteFile(filepath.Join(path, "LOCK"), []byte("?"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = disk.OpenDir(path)
	if !errors.As(err, &le) || le.PID != 0 || err.Error() != fmt.Sprintf("data directory %s is in use by another process", path) {
		t.Fatalf("OpenDir with a LOCK of no pid: %v", err)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = disk.OpenDir(path)
	if err != nil {
		t.Fatalf("OpenDir after Close: %v", err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDirList(t *testing.T) {
	d, err := disk.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if fs, err := d.List(); err != nil || fs.Logs != nil || fs.Snapshots != nil || fs.Temp != nil {
		t.Fatalf("List of a new directory: %+v, %v", fs, err)
	}
	names := []string{
		filepath.Base(d.LogPath(10)), filepath.Base(d.LogPath(2)), filepath.Base(d.LogPath(1_000_000)),
		filepath.Base(d.SnapshotPath(3)), filepath.Base(d.SnapshotPath(1)), "log.1",
		"snapshot.000004.tmp", "log.000005.tmp", ".tmp",
		// names that are not ours, or not whole
		"log.000003.cut-100", "snapshot.000002.damaged", "log.000000", "log.", "log.-1", "log.+7", "log.abc",
		"snapshot", "snapshots.000009", "LOG.000008", "README",
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(d.Path(), n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	want := disk.Files{
		Logs:      []uint64{1, 2, 10, 1_000_000},
		Snapshots: []uint64{1, 3},
		Temp:      []string{filepath.Join(d.Path(), ".tmp"), filepath.Join(d.Path(), "log.000005.tmp"), filepath.Join(d.Path(), "snapshot.000004.tmp")},
	}
	slices.Sort(fs.Temp)
	if !slices.Equal(fs.Logs, want.Logs) || !slices.Equal(fs.Snapshots, want.Snapshots) || !slices.Equal(fs.Temp, want.Temp) {
		t.Fatalf("List() = %+v, want %+v", fs, want)
	}
	if got := filepath.Base(d.LogPath(7)); got != "log.000007" {
		t.Fatalf("LogPath(7) = %q", got)
	}
	if got := filepath.Base(d.SnapshotPath(7)); got != "snapshot.000007" {
		t.Fatalf("SnapshotPath(7) = %q", got)
	}
}

func ExampleScanLog() {
	dir, err := os.MkdirTemp("", "disk")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "log.000001")

	l, err := disk.CreateLog(path, 1, disk.LogOptions{})
	if err != nil {
		panic(err)
	}
	var frames []byte // gathered, then written in one Append
	for _, change := range []string{"set a 1", "set b 2"} {
		var body []byte
		frames, body = disk.AppendFrame(frames, len(change))
		copy(body, change)
		disk.SealFrame(frames, body)
	}
	if err := l.Append(frames); err != nil {
		panic(err)
	}
	if err := l.Close(); err != nil {
		panic(err)
	}

	data, err := disk.MapFile(path)
	if err != nil {
		panic(err)
	}
	defer disk.Unmap(data)
	scan, err := disk.ScanLog(path, data, 1<<20, nil, func(off int64, body []byte) error {
		fmt.Printf("%d: %s\n", off, body)
		return nil
	})
	fmt.Printf("%d frames, end %d, torn %d, %v\n", scan.Frames, scan.End, scan.TornBytes, err)
	// Output:
	// 32: set a 1
	// 47: set b 2
	// 2 frames, end 62, torn 0, <nil>
}

// TestScanLogTwoDamagedFrames: one damaged page can cover the end of one
// frame and the length of the next, putting the next good frame further
// than the longest frame away. With a plausibility check, that is still
// damage, not a torn tail to cut.
func TestScanLogTwoDamagedFrames(t *testing.T) {
	bodies := bodiesOf(100, 950, 600, 100, 100) // frame 2 is past maxBody from frame 0's end
	for _, b := range bodies {
		b[0] = 'P' // what the plausibility check below looks for
	}
	path := writeLog(t, disk.LogOptions{}, bodies)
	data := readFile(t, path)
	offs, _ := frameOffsets(bodies)
	data[offs[1]-1] ^= 0xff // the last byte of frame 0's body
	data[offs[1]] ^= 0x0f   // frame 1's length
	plausible := func(b []byte) bool { return b[0] == 'P' }
	s := scanLog(path, data, 1000, plausible)
	var de *disk.DamageError
	if !errors.As(s.err, &de) || de.Offset != offs[0] {
		t.Fatalf("ScanLog = %+v, %v; want a DamageError at %d", s.scan, s.err, offs[0])
	}
}

// sessionBodies are records as a store of express sessions holds them: each
// unique, but alike across records, as a block's compression finds.
func sessionBodies(n int) [][]byte {
	bs := make([][]byte, n)
	for i := range bs {
		bs[i] = fmt.Appendf(nil, "sess:%032x{\"cookie\":{\"originalMaxAge\":86400000,\"expires\":\"2026-12-%02dT10:00:00.000Z\",\"httpOnly\":true,\"path\":\"/\"},\"passport\":{\"user\":\"%d\"},\"csrf\":\"%x\"}",
			bodyOf(i, 16), i%28+1, i*7919%100000, bodyOf(i, 12))
	}
	return bs
}

func TestSnapshotCompressesBlocks(t *testing.T) {
	bodies := sessionBodies(3000)
	path := writeSnapshot(t, []byte("meta"), bodies)
	payload := 0
	for _, b := range bodies {
		payload += 4 + len(b)
	}
	data := readFile(t, path)
	if len(data) > payload*2/3 {
		t.Fatalf("session records take %d bytes in the snapshot, %d uncompressed; want at most two thirds", len(data), payload)
	}
	starts := blockStarts(t, data)
	for _, off := range starts[1 : len(starts)-1] { // the records' blocks
		if binary.LittleEndian.Uint32(data[off:])&(1<<31) == 0 {
			t.Fatalf("the block at %d is not compressed", off)
		}
	}
	s := readSnapshot(path, maxBody)
	if s.err != nil || len(s.records) != len(bodies) {
		t.Fatalf("%d records, %v; want %d", len(s.records), s.err, len(bodies))
	}
	for i := range bodies {
		if !bytes.Equal(s.records[i], bodies[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	// Random records do not compress: their blocks are stored as they are.
	sizes := make([]int, 1000)
	for i := range sizes {
		sizes[i] = 500
	}
	random := writeSnapshot(t, []byte("meta"), bodiesOf(sizes...))
	data = readFile(t, random)
	for _, off := range blockStarts(t, data) {
		if binary.LittleEndian.Uint32(data[off:])&(1<<31) != 0 {
			t.Fatalf("a block of random records at %d is compressed", off)
		}
	}
}
