package sessiond

import "syscall"

// adviseHuge asks the kernel to back b with transparent huge pages, where
// it allows them (the "madvise" mode most distributions ship). A load
// fills every page of its arenas at once; with 2 MiB pages it takes one
// fault where it took 512 (bench/persist: the load of 1,000,000 sessions
// took about half the time and CPU).
func adviseHuge(b []byte) {
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}

// adviseSmall takes the advice back once the load is done: the huge pages
// it got stay until parts of them are freed, but the kernel no longer
// gathers small ones into huge ones there, which would hold freed memory.
func adviseSmall(b []byte) {
	_ = syscall.Madvise(b, syscall.MADV_NOHUGEPAGE)
}
