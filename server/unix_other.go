//go:build !unix

package server

import (
	"errors"
	"net"
	"os"
)

func listenUnix(path string, perm os.FileMode) (net.Listener, error) {
	return nil, errors.New("unix sockets are not supported on this system")
}
