package disk

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// Log is a log file open for appending. Appends are whole frames, written
// with one system call for as many frames as the caller gathered (a batch
// of commands, or the changes of many connections made while the previous
// write ran): once Append returns, the frames are in the kernel's page
// cache, where a crash of the process cannot lose them; Sync makes them
// durable against a crash of the machine. A Log is not safe for concurrent
// use, but Sync and ZeroAhead may run while an Append does.
type Log struct {
	f    *os.File
	path string
	gen  uint64
	off  int64 // where the next frame goes: the end of the last whole one
	size int64 // the file's size: preallocated past off; under zmu with Zero
	opts LogOptions

	end    atomic.Int64 // off, for ZeroAhead and NeedsZero
	zeroed atomic.Int64 // with Zero: the file holds flushed zeros or frames up to here
	zmu    sync.Mutex   // held while zeros are written, and by an Append past zeroed
	closed bool         // under zmu
}

// LogOptions tune a Log. The zero value gives the defaults.
type LogOptions struct {
	// WriteAt, if set, replaces the system call that writes p at off;
	// tests inject failures (a full disk, a short write) with it.
	WriteAt func(f *os.File, p []byte, off int64) (int, error)
	// Sync, if set, replaces fdatasync; tests inject failures with it.
	Sync func(f *os.File) error
	// Chunk is how far ahead of its frames the file is allocated. If
	// zero, 4 MiB. An append inside the file's size changes no metadata
	// (an append past it would, the inode's size, in the filesystem's
	// journal, every time); a crash leaves zeros after the last frame,
	// the log's clean end, and Close cuts them off.
	Chunk int64
	// Zero, if set, has ZeroAhead write zeros ahead of the frames, and
	// flush them, instead of allocating blocks only: on ext4 and XFS an
	// allocated block is "unwritten", and the first write into it changes
	// the file's extents, which every flush must then commit to the
	// filesystem's journal. A frame written over flushed zeros changes no
	// metadata, so its flush writes the data alone: a third to a half
	// less time per fdatasync on this project's machines, which is what
	// FsyncAlways waits for. It costs writing every byte of the log twice.
	Zero bool
}

// CreateLog creates log generation gen at path, with its header written and
// synced, and opens it for appending. It is created under a temporary name
// and renamed, so that a log file always has its header; the caller syncs
// the directory.
func CreateLog(path string, gen uint64, o LogOptions) (*Log, error) {
	if o.WriteAt == nil {
		o.WriteAt = (*os.File).WriteAt
	}
	if o.Sync == nil {
		o.Sync = fdatasync
	}
	if o.Chunk <= 0 {
		o.Chunk = 4 << 20
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Log, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("disk: creating %s: %w", path, err)
	}
	var h [HeaderSize]byte
	putHeader(h[:], KindLog, gen)
	if _, err := o.WriteAt(f, h[:], 0); err != nil {
		return fail(err)
	}
	if err := o.Sync(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	l := &Log{f: f, path: path, gen: gen, off: HeaderSize, size: HeaderSize, opts: o}
	l.end.Store(HeaderSize)
	l.zeroed.Store(HeaderSize)
	return l, nil
}

// AppendFrame appends to dst a frame with a body of n bytes, its header to
// be sealed, and returns dst and the body to fill; SealFrame then writes
// the header. Frames gathered so go to Append together.
func AppendFrame(dst []byte, n int) (out, body []byte) {
	start := len(dst)
	if cap(dst)-start < FrameHeader+n {
		grown := make([]byte, start, max(2*cap(dst), start+FrameHeader+n, 4096))
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+FrameHeader+n]
	return dst, dst[start+FrameHeader:]
}

// SealFrame writes the header of the frame that ends buf, whose body
// AppendFrame returned and the caller filled: its length and checksum.
func SealFrame(buf, body []byte) {
	h := buf[len(buf)-len(body)-FrameHeader:]
	binary.LittleEndian.PutUint32(h, uint32(len(body)))
	binary.LittleEndian.PutUint32(h[4:], Checksum(body))
}

// Append writes frames, whole frames built with AppendFrame and SealFrame,
// at the end of the log in one system call. On an error (a full disk) the
// log's end stays where it was, and whatever part of frames reached the
// file is cut off again, so that the next Append follows the last whole
// frame.
func (l *Log) Append(frames []byte) error {
	if len(frames) == 0 {
		return nil
	}
	end := l.off + int64(len(frames))
	var past, locked bool
	switch {
	case !l.opts.Zero:
		past = end > l.size
	case end > l.zeroed.Load():
		// Past the zeros ZeroAhead flushed (below them all is
		// allocated): wait for any it is writing, never writing where
		// it does, then allocate as without Zero.
		l.zmu.Lock()
		defer l.zmu.Unlock()
		past, locked = end > l.size, true
	}
	if past {
		// Allocate ahead. Where the filesystem cannot, the write
		// extends the file as it goes.
		size := end + l.opts.Chunk
		if preallocate(l.f, l.size, size-l.size) == nil {
			l.size = size
		}
	}
	n, err := l.opts.WriteAt(l.f, frames, l.off)
	if err == nil && n < len(frames) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(frames))
	}
	if err != nil {
		if n > 0 {
			// A torn tail otherwise (cut at the next start anyway).
			if l.opts.Zero && !locked {
				l.zmu.Lock()
				defer l.zmu.Unlock()
			}
			l.truncate()
		}
		return &os.PathError{Op: "write", Path: l.path, Err: err}
	}
	l.off = end
	l.end.Store(end)
	return nil
}

// truncate cuts the file at its last whole frame, after a failed write;
// with Zero, called with zmu held.
func (l *Log) truncate() {
	if l.f.Truncate(l.off) == nil {
		l.size = l.off
		l.zeroed.Store(min(l.zeroed.Load(), l.off))
	}
}

// zeros is what ZeroAhead writes, a piece at a time.
var zeros [256 << 10]byte

// NeedsZero reports whether a Log with Zero has less than half a Chunk of
// flushed zeros left ahead of its frames: time to call ZeroAhead.
func (l *Log) NeedsZero() bool {
	return l.opts.Zero && l.zeroed.Load()-l.end.Load() < l.opts.Chunk/2
}

// ZeroAhead writes zeros from the end of the frames (or of the zeros
// already there) to two Chunks past the frames, and flushes them, for a
// Log with Zero; appends meanwhile go on below the zeros written before. A
// failure (a full disk) is returned and changes nothing: appends allocate
// as they go, as without Zero.
func (l *Log) ZeroAhead() error {
	if !l.opts.Zero {
		return nil
	}
	l.zmu.Lock()
	defer l.zmu.Unlock()
	if l.closed {
		return os.ErrClosed
	}
	// Under zmu no append goes past zeroed, so off is at most zeroed, or
	// (past it, allocated by an append) stays where it is.
	from := max(l.zeroed.Load(), l.end.Load())
	to := l.end.Load() + 2*l.opts.Chunk
	for off := from; off < to; {
		n := min(int64(len(zeros)), to-off)
		w, err := l.opts.WriteAt(l.f, zeros[:n], off)
		if err == nil && int64(w) < n {
			err = fmt.Errorf("short write: %d of %d bytes", w, n)
		}
		if err != nil {
			return &os.PathError{Op: "write", Path: l.path, Err: err}
		}
		off += n
	}
	if err := l.opts.Sync(l.f); err != nil {
		return err
	}
	l.size = max(l.size, to)
	l.zeroed.Store(max(l.zeroed.Load(), to))
	return nil
}

// End returns the offset after the last frame.
func (l *Log) End() int64 { return l.off }

// Gen returns the log's generation.
func (l *Log) Gen() uint64 { return l.gen }

// Path returns the log's file name.
func (l *Log) Path() string { return l.path }

// Sync makes every appended frame durable.
func (l *Log) Sync() error { return l.opts.Sync(l.f) }

// Close cuts the file to its frames, syncs and closes it.
func (l *Log) Close() error {
	l.zmu.Lock()
	defer l.zmu.Unlock()
	l.closed = true
	err := l.f.Truncate(l.off)
	if serr := l.opts.Sync(l.f); err == nil {
		err = serr
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// MapFile maps the file at path for reading; unmap it with Unmap. An empty
// file maps to nil.
func MapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, nil
	}
	if fi.Size() != int64(int(fi.Size())) {
		return nil, fmt.Errorf("disk: %s: too large to map", path)
	}
	return mapFile(f, int(fi.Size()))
}
