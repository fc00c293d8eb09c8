//go:build unix

package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// listenUnix listens on a Unix socket at path with the given permissions.
// A socket file left by a crashed run is replaced; one that a live server
// answers on is an error, as is a path that is not a socket.
func listenUnix(path string, perm os.FileMode) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, errors.New("the path exists and is not a socket")
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, errors.New("another server is listening on it")
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("cannot tell whether it is in use: %w", err)
		}
		// Stale: nobody answers.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket: %w", err)
		}
	}
	// Create the socket with no permissions for anyone but the owner
	// before it is chmod-ed to perm, so there is no moment when it is
	// more open than asked.
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, perm); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod %#o: %w", perm, err)
	}
	return l, nil
}
