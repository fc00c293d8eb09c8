package sessiond

import (
	"errors"
	"fmt"
)

// FsyncPolicy says when the log in Options.Dir is flushed to the disk, with
// Redis's appendfsync meanings. Under every policy a change is in the
// kernel's hands before the operation that made it returns, so a crash of
// the process loses nothing acknowledged; the policy decides what a crash
// of the machine (power, kernel) can lose.
type FsyncPolicy uint8

const (
	// FsyncEverySec flushes once a second: a crash of the machine loses
	// about the last second of changes. It is the default.
	FsyncEverySec FsyncPolicy = iota
	// FsyncAlways returns from a change only once the log holding it is
	// on the disk: a crash of the machine loses nothing acknowledged.
	// Changes made at once by many goroutines share one flush.
	FsyncAlways
	// FsyncNo leaves flushing to the kernel (on Linux, within about 30
	// seconds).
	FsyncNo
)

var fsyncNames = [...]string{FsyncEverySec: "everysec", FsyncAlways: "always", FsyncNo: "no"}

// String returns the policy's name as Redis spells it.
func (p FsyncPolicy) String() string {
	if int(p) < len(fsyncNames) {
		return fsyncNames[p]
	}
	return fmt.Sprintf("FsyncPolicy(%d)", p)
}

// ParseFsyncPolicy returns the policy with the given Redis name.
func ParseFsyncPolicy(name string) (FsyncPolicy, error) {
	for p, n := range fsyncNames {
		if n == name {
			return FsyncPolicy(p), nil
		}
	}
	return 0, fmt.Errorf("sessiond: unknown appendfsync policy %q (want always, everysec or no)", name)
}

// Errors of a store with a data directory.
var (
	// ErrNotPersisted is returned for a change the data directory could
	// not take (a full disk, a failed write or flush). While it lasts,
	// changes are refused with it and reads go on; they resume by
	// themselves once the disk takes writes again. A change that got it
	// may be visible in memory, but was not acknowledged and may be gone
	// after a restart.
	ErrNotPersisted = errors.New("sessiond: not persisted")
	// ErrLoading is returned by operations on a store that is still
	// loading its data directory (Options.LoadInBackground).
	ErrLoading = errors.New("sessiond: loading the data directory")
	// ErrSaveInProgress is returned by Save while another runs.
	ErrSaveInProgress = errors.New("sessiond: a save is already in progress")
	// ErrNoDir is returned by Save on a store without a data directory.
	ErrNoDir = errors.New("sessiond: no data directory")
)
