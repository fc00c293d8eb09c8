//go:build unix && !linux

package disk

import "os"

// allocate gives f the blocks of [off, off+n) by writing zeros: without
// fallocate, that is how the blocks are reserved before the mapping is
// written.
func allocate(f *os.File, off, n int64) error { return writeZeros(f, off, n) }

func fdatasync(f *os.File) error { return f.Sync() }

// populate does nothing: the appends fault the pages in.
func populate(b []byte) {}
