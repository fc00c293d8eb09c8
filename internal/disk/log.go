//go:build unix

package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Log is a log file open for appending. Its file is mapped into memory and
// preallocated a chunk at a time: an append is a copy into the mapping,
// which puts the frame in the kernel's page cache at once, where a crash
// of the process cannot lose it; Sync makes it durable against a crash of
// the machine. A Log is not safe for concurrent use.
type Log struct {
	f    *os.File
	path string
	gen  uint64
	m    []byte // mapSize bytes of address space; the first size are the file
	size int64  // the file's allocated length
	off  int64  // where the next frame goes
	opts LogOptions
}

// LogOptions tune a Log. The zero value gives the defaults.
type LogOptions struct {
	// Chunk is how much the file grows by at a time. If zero, 4 MiB.
	Chunk int64
	// MapSize is the most a log can hold; Reserve past it returns
	// ErrLogFull. If zero, 16 GiB.
	MapSize int64
	// Allocate, if set, replaces the system call that gives the file
	// [off, off+n); tests inject failures with it.
	Allocate func(f *os.File, off, n int64) error
	// Sync, if set, replaces fdatasync; tests inject failures with it.
	Sync func(f *os.File) error
}

// ErrLogFull is returned by Reserve when the log has reached
// LogOptions.MapSize: the caller starts a new one.
var ErrLogFull = errors.New("disk: log full")

// CreateLog creates log generation gen at path, with its header written and
// synced, and opens it for appending. It is created under a temporary name
// and renamed, so that a log file always has its header; the caller syncs
// the directory.
func CreateLog(path string, gen uint64, o LogOptions) (*Log, error) {
	if o.Chunk <= 0 {
		o.Chunk = 4 << 20
	}
	if o.MapSize <= 0 {
		o.MapSize = 16 << 30
	}
	if o.Allocate == nil {
		o.Allocate = allocate
	}
	if o.Sync == nil {
		o.Sync = fdatasync
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	l := &Log{f: f, path: path, gen: gen, opts: o}
	fail := func(err error) (*Log, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("disk: creating %s: %w", path, err)
	}
	// The header goes in after the first chunk: where there is no
	// fallocate, allocating writes zeros, over it.
	if err := l.grow(HeaderSize); err != nil {
		return fail(err)
	}
	var h [HeaderSize]byte
	putHeader(h[:], KindLog, gen)
	if _, err := f.WriteAt(h[:], 0); err != nil {
		return fail(err)
	}
	if err := o.Sync(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	l.m, err = syscall.Mmap(int(f.Fd()), 0, int(o.MapSize), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("disk: mapping %s: %w", path, err)
	}
	l.off = HeaderSize
	l.populate(0, l.size)
	return l, nil
}

// grow allocates the file up to at least need bytes, a chunk at a time.
func (l *Log) grow(need int64) error {
	size := l.size
	for size < need {
		size += l.opts.Chunk
	}
	if size > l.opts.MapSize {
		size = l.opts.MapSize
		if size < need {
			return ErrLogFull
		}
	}
	if err := l.opts.Allocate(l.f, l.size, size-l.size); err != nil {
		return err
	}
	l.populate(l.size, size)
	l.size = size
	return nil
}

// populate makes the pages of [from, to) of the mapping present and
// writable now, so that appends into them take no page faults: a first
// write to a page of a preallocated file costs the filesystem far more
// when it faults than when it is done in bulk (docs/BENCHMARKS.md).
func (l *Log) populate(from, to int64) {
	if l.m != nil && to > from {
		populate(l.m[from:to])
	}
}

// Room returns the bytes allocated past the last frame.
func (l *Log) Room() int64 { return l.size - l.off }

// Prepare allocates and populates [off, off+n) of the file, ahead of the
// appends, so that they neither wait for the allocation nor fault on the
// pages. It touches nothing Reserve and Commit use: it may run without
// the caller's lock, off the write path, with off at or past the current
// size; Extend then makes the room the log's.
func (l *Log) Prepare(off, n int64) error {
	n = min(n, l.opts.MapSize-off)
	if n <= 0 {
		return ErrLogFull
	}
	if err := l.opts.Allocate(l.f, off, n); err != nil {
		return err
	}
	l.populate(off, off+n)
	return nil
}

// Extend makes the log's allocated size end, once Prepare has prepared up
// to it. A smaller end (the log grew meanwhile) changes nothing.
func (l *Log) Extend(end int64) { l.size = max(l.size, min(end, l.opts.MapSize)) }

// Reserve returns room for a frame body of n bytes at the end of the log,
// growing the file if it must. The caller writes the body, then calls
// Commit before any other Reserve. An error (a full disk, ErrLogFull)
// leaves the log as it was.
func (l *Log) Reserve(n int) ([]byte, error) {
	if n <= 0 {
		return nil, errors.New("disk: a frame's body must not be empty") // a zero length is the log's end
	}
	end := l.off + FrameHeader + int64(n)
	if end > l.size {
		if err := l.grow(end); err != nil {
			return nil, err
		}
	}
	return l.m[l.off+FrameHeader : end : end], nil
}

// Commit seals the frame whose body Reserve returned, now written: its
// header goes in last, so that a crash before it leaves a frame of length
// zero, the log's clean end.
func (l *Log) Commit(body []byte) {
	binary.LittleEndian.PutUint32(l.m[l.off+4:], Checksum(body))
	binary.LittleEndian.PutUint32(l.m[l.off:], uint32(len(body)))
	l.off += FrameHeader + int64(len(body))
}

// End returns the offset after the last frame.
func (l *Log) End() int64 { return l.off }

// Size returns the bytes the file takes on disk, preallocated ones
// included.
func (l *Log) Size() int64 { return l.size }

// Gen returns the log's generation.
func (l *Log) Gen() uint64 { return l.gen }

// Path returns the log's file name.
func (l *Log) Path() string { return l.path }

// Sync makes every committed frame durable. It may run while appends go
// on: what they add is covered or not.
func (l *Log) Sync() error { return l.opts.Sync(l.f) }

// Close unmaps the log, cuts the file to its frames, syncs and closes it.
func (l *Log) Close() error {
	err := syscall.Munmap(l.m)
	l.m = nil
	if terr := l.f.Truncate(l.off); err == nil {
		err = terr
	}
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
	return syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
}

// Unmap unmaps what MapFile mapped.
func Unmap(b []byte) {
	if len(b) > 0 {
		_ = syscall.Munmap(b)
	}
}
