package cluster

import "syscall"

// lowerThreadPriority sets the calling thread's nice value: on Linux a
// thread's own, named by its thread id. A failure (a seccomp filter) leaves
// the priority as it was.
func lowerThreadPriority(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
