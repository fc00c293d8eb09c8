//go:build linux && !arm

package disk

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to the
// disk, without waiting: a file written for a long time (a snapshot) then
// goes to the disk as it is written, not in one burst at its flush.
func startWriteback(f *os.File, off, n int64) {
	_ = syscall.SyncFileRange(int(f.Fd()), off, n, 0x2) // SYNC_FILE_RANGE_WRITE
}
