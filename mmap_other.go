//go:build !linux

package sessiond

// Off Linux the slabs live on the Go heap (Go's syscall package has no
// madvise there to give pages back). They hold no pointers, so the
// collector does not scan them; a freed segment is zeroed and kept for
// reuse, and the memory returns to the system only once the store closes.

func mapMemory(n int) ([]byte, error) { return make([]byte, n), nil }

func unmapMemory(b []byte) {}

func releaseMemory(b []byte) { clear(b) }
