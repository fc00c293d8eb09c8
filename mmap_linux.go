//go:build linux

package sessiond

import "syscall"

// Record memory is mapped from the kernel rather than allocated on the Go
// heap: the garbage collector never scans it, freed pages go back to the
// kernel at once, and untouched pages cost no RSS.

func mapMemory(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

func unmapMemory(b []byte) {
	if len(b) > 0 {
		_ = syscall.Munmap(b)
	}
}

// releaseMemory gives b's pages back to the kernel but keeps the mapping, so
// it can be reused; the pages read as zero afterwards.
func releaseMemory(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
