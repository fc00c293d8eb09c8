//go:build !linux

package cluster

// lowerThreadPriority does nothing where a thread has no nice value of its
// own.
func lowerThreadPriority(int) {}
