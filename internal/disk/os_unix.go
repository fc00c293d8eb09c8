//go:build unix

package disk

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes f's exclusive lock, which the kernel releases when the
// process ends however it ends; held reports that another process has it.
func lockFile(f *os.File) (held bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

// mapFile maps the n bytes of f read-only.
func mapFile(f *os.File, n int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
}

// Unmap unmaps what MapFile mapped.
func Unmap(b []byte) {
	if len(b) > 0 {
		_ = syscall.Munmap(b)
	}
}
