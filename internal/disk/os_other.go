//go:build !unix

package disk

import (
	"errors"
	"io"
	"os"
)

// errNoLock is why a data directory cannot be opened here: without flock,
// no lock is released by the kernel when its holder dies, and a second
// process on the directory would corrupt it.
var errNoLock = errors.New("a data directory needs a unix system (Linux, macOS, BSD): no lock here is released when its holder dies")

func lockFile(f *os.File) (held bool, err error) { return false, errNoLock }

// mapFile reads the n bytes of f, where files are not mapped.
func mapFile(f *os.File, n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(f, b)
	return b, err
}

// Unmap does nothing: mapFile read the file into memory.
func Unmap(b []byte) {}
