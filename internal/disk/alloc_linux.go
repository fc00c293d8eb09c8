package disk

import (
	"os"
	"syscall"
)

// allocate gives f the blocks of [off, off+n), growing it: the kernel
// reserves them now, so a write through the mapping cannot fail later for
// want of space (it would be a SIGBUS).
func allocate(f *os.File, off, n int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, off, n)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EOPNOTSUPP {
			return writeZeros(f, off, n)
		}
		if err != nil {
			return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault the pages
// in, writable, in one call.
const madvPopulateWrite = 23

// populate prefaults b's pages for writing. On a kernel without
// MADV_POPULATE_WRITE it does nothing: the appends fault instead.
func populate(b []byte) { _ = syscall.Madvise(b, madvPopulateWrite) }

func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
		}
		return nil
	}
}
