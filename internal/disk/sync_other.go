//go:build !linux

package disk

import (
	"errors"
	"os"
)

func fdatasync(f *os.File) error { return f.Sync() }

// preallocate does nothing: without fallocate, the writes extend the file.
func preallocate(f *os.File, off, n int64) error { return errors.ErrUnsupported }
