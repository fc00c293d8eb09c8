//go:build !linux

package sessiond

// Without mmap the slabs live on the Go heap. They hold no pointers, so the
// collector does not scan them, but freed memory returns to the system only
// as the runtime scavenges it.

func mapMemory(n int) ([]byte, error) { return make([]byte, n), nil }

func unmapMemory(b []byte) {}

func releaseMemory(b []byte) { clear(b) }
