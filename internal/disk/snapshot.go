package disk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sessiond/sessiond/internal/lz"
)

// A snapshot is its header, then blocks:
//
//	4  stored length n (0: the final block); the top bit set: compressed
//	4  CRC-32C of the n bytes stored
//	n  the payload, or if compressed: its length (4 bytes), then the
//	   payload compressed by package lz
//
// The first block's payload is the caller's metadata. Each later block
// holds records, each a 4-byte length and a body. The final block has a
// length of zero and an 8-byte payload, the number of records, under the
// checksum. Anything after it is damage. A block is compressed when that
// saves an eighth of it or more: records of one store share their key
// prefixes and field names, which a block's compression finds.

// blockTarget is the payload size at which a block is written out: small
// enough that compressing one takes about a tenth of a millisecond, which
// a snapshot's pacing can then spread, and as large as the compressor's
// window, so that a larger block would not compress better.
const blockTarget = 64 << 10

// blockLimit bounds a block of records of any size below maxBody when
// reading: the most any release's writer made.
const blockLimit = 256 << 10

// compressedBit marks a compressed block in its stored length.
const compressedBit = 1 << 31

// SnapshotWriter writes a snapshot under a temporary name; Commit makes it
// the snapshot, Abort removes it. It holds one block in memory.
type SnapshotWriter struct {
	f       *os.File
	err     error // the first write's failure
	path    string
	tmp     string
	block   []byte // the block's 8-byte head, then its payload
	zbuf    []byte // a compressed block, head and all
	count   uint64
	size    int64
	flushed int64 // the bytes whose writeback has started
	sync    func(*os.File) error
}

// blockHead is the room for a block's length and checksum at the start of
// SnapshotWriter.block, so that a block goes out in one write.
const blockHead = 8

// CreateSnapshot starts snapshot generation gen at path with the given
// metadata. sync, if not nil, replaces fdatasync (tests inject failures).
func CreateSnapshot(path string, gen uint64, meta []byte, sync func(*os.File) error) (*SnapshotWriter, error) {
	if sync == nil {
		sync = fdatasync
	}
	if len(meta) == 0 {
		return nil, errors.New("disk: a snapshot's metadata must not be empty") // a block of length 0 is the final one
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	w := &SnapshotWriter{f: f, path: path, tmp: tmp, sync: sync, block: make([]byte, blockHead, blockHead+blockTarget)}
	var h [HeaderSize]byte
	putHeader(h[:], KindSnapshot, gen)
	w.write(h[:])
	w.block = append(w.block, meta...)
	if err := w.flushBlock(); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

func (w *SnapshotWriter) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	w.err = err
	if w.size-w.flushed >= writebackEvery {
		startWriteback(w.f, w.flushed, w.size-w.flushed)
		w.flushed = w.size
	}
}

// writebackEvery is how much of a snapshot is written before the kernel is
// asked to start writing it to the disk.
const writebackEvery = 4 << 20

// Add returns room for a record body of n bytes; the caller fills it before
// the next call.
func (w *SnapshotWriter) Add(n int) ([]byte, error) {
	if len(w.block) > blockHead && len(w.block)-blockHead+4+n > blockTarget {
		if err := w.flushBlock(); err != nil {
			return nil, err
		}
	}
	w.count++
	w.block = binary.LittleEndian.AppendUint32(w.block, uint32(n))
	start := len(w.block)
	w.block = append(w.block, make([]byte, n)...)
	return w.block[start:], nil
}

func (w *SnapshotWriter) flushBlock() error {
	payload := w.block[blockHead:]
	z := binary.LittleEndian.AppendUint32(append(w.zbuf[:0], make([]byte, blockHead)...), uint32(len(payload)))
	z, ok := lz.Compress(z, payload)
	if stored := z[blockHead:]; ok && len(stored) <= len(payload)-len(payload)/8 {
		binary.LittleEndian.PutUint32(z, uint32(len(stored))|compressedBit)
		binary.LittleEndian.PutUint32(z[4:], Checksum(stored))
		w.write(z)
	} else {
		binary.LittleEndian.PutUint32(w.block, uint32(len(payload)))
		binary.LittleEndian.PutUint32(w.block[4:], Checksum(payload))
		w.write(w.block)
	}
	w.zbuf = z[:0]
	if cap(w.zbuf) > 2*blockTarget {
		w.zbuf = nil
	}
	w.block = w.block[:blockHead]
	if cap(w.block) > 2*blockTarget {
		w.block = make([]byte, blockHead, blockHead+blockTarget) // one huge record passed through: let it go
	}
	return w.err
}

// Size returns the bytes written so far.
func (w *SnapshotWriter) Size() int64 { return w.size }

// Count returns the records added so far.
func (w *SnapshotWriter) Count() uint64 { return w.count }

// Commit writes the last blocks, syncs the file and renames it into place;
// the caller syncs the directory.
func (w *SnapshotWriter) Commit() error {
	if len(w.block) > blockHead {
		if err := w.flushBlock(); err != nil {
			w.Abort()
			return err
		}
	}
	var end [16]byte
	binary.LittleEndian.PutUint64(end[8:], w.count)
	binary.LittleEndian.PutUint32(end[4:], Checksum(end[8:]))
	w.write(end[:])
	err := w.err
	if err == nil {
		err = w.sync(w.f)
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, w.path)
	}
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("disk: writing %s: %w", w.path, err)
	}
	return nil
}

// Abort abandons the snapshot and removes its file.
func (w *SnapshotWriter) Abort() {
	w.f.Close()
	os.Remove(w.tmp)
}

// ReadSnapshot reads the snapshot at path: it passes the metadata to meta,
// then each record's body to fn, and checks the final count. maxBody bounds
// a record's body; nothing larger than the file, or than a block of
// records of maxBody, is ever allocated. An error
// from meta or fn stops it and is returned; a flaw in the file is a
// *DamageError, after fn has had every record before the damaged block.
func ReadSnapshot(path string, maxBody int, meta func([]byte) error, fn func(body []byte) error) (count uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	r := &snapReader{r: bufio.NewReaderSize(f, 1<<20), file: path, size: fi.Size()}
	var h [HeaderSize]byte
	if err := r.full(h[:]); err != nil {
		return 0, err
	}
	if _, err := checkHeader(path, h[:], KindSnapshot); err != nil {
		return 0, err
	}
	first := true
	var buf, raw []byte
	maxPayload := max(blockLimit, 4+maxBody)
	for {
		at := r.off
		var bh [8]byte
		if err := r.full(bh[:]); err != nil {
			return count, err
		}
		n := int64(binary.LittleEndian.Uint32(bh[:]) &^ compressedBit)
		compressed := binary.LittleEndian.Uint32(bh[:])&compressedBit != 0
		sum := binary.LittleEndian.Uint32(bh[4:])
		if n == 0 && !compressed {
			if first {
				return count, r.damage(at, "no metadata block before the final block")
			}
			var c [8]byte
			if err := r.full(c[:]); err != nil {
				return count, err
			}
			switch {
			case sum != Checksum(c[:]):
				return count, r.damage(at, "final block checksum mismatch")
			case binary.LittleEndian.Uint64(c[:]) != count:
				return count, r.damage(at, fmt.Sprintf("final block counts %d records, the blocks hold %d", binary.LittleEndian.Uint64(c[:]), count))
			case r.off != r.size:
				return count, r.damage(r.off, fmt.Sprintf("%d bytes after the final block", r.size-r.off))
			}
			return count, nil
		}
		if n > r.size-r.off {
			return count, r.damage(at, fmt.Sprintf("block of %d bytes runs past the end of the file (truncated?)", n))
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if err := r.full(buf); err != nil {
			return count, err
		}
		if Checksum(buf) != sum {
			return count, r.damage(at, "block checksum mismatch")
		}
		payload := buf
		if compressed {
			if len(buf) < 4 || int(binary.LittleEndian.Uint32(buf)) > maxPayload {
				return count, r.damage(at, "compressed block of an impossible size")
			}
			var err error
			if raw, err = lz.Decompress(raw[:0], buf[4:], int(binary.LittleEndian.Uint32(buf))); err != nil {
				return count, r.damage(at, "compressed block does not decompress")
			}
			payload = raw
		}
		if first {
			first = false
			if err := meta(payload); err != nil {
				return count, err
			}
			continue
		}
		// The whole block checks out before any of it is used: damage
		// never yields half a block.
		for p := payload; len(p) > 0; {
			if len(p) < 4 {
				return count, r.damage(at, "record length cut short")
			}
			k := int(binary.LittleEndian.Uint32(p))
			if k > maxBody || k > len(p)-4 {
				return count, r.damage(at, fmt.Sprintf("record of %d bytes in a block of %d", k, len(payload)))
			}
			p = p[4+k:]
		}
		for p := payload; len(p) > 0; {
			k := int(binary.LittleEndian.Uint32(p))
			if err := fn(p[4 : 4+k]); err != nil {
				return count, err
			}
			count++
			p = p[4+k:]
		}
		if cap(buf) > 2*blockTarget {
			buf = nil
		}
		if cap(raw) > 2*blockTarget {
			raw = nil
		}
	}
}

type snapReader struct {
	r    *bufio.Reader
	file string
	off  int64
	size int64
}

func (r *snapReader) full(b []byte) error {
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return r.damage(r.off, "the file ends without its final block (truncated)")
	}
	return err
}

func (r *snapReader) damage(off int64, reason string) error {
	return &DamageError{File: r.file, Offset: off, Reason: reason}
}
