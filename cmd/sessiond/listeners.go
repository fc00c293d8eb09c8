package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/server"
)

// describe returns the one line that says why the start failed: for a
// listener that could not be opened, which one, its flag and address, and
// the cause ("the RESP listener (--addr 127.0.0.1:6379): address already
// in use"); for anything else, explain's.
func describe(err error) string {
	var se *server.ListenError
	if errors.As(err, &se) {
		name, flag := "the RESP listener", "--addr"
		switch {
		case se.Proto == "memcache" && se.Network == "unix":
			name, flag = "the memcached Unix socket", "--memcache-unix"
		case se.Proto == "memcache":
			name, flag = "the memcached listener", "--memcache-addr"
		case se.Network == "unix":
			name, flag = "the RESP Unix socket", "--unix"
		}
		return listenFailure(name, flag, se.Addr, se.Err)
	}
	var ce *cluster.ListenError
	if errors.As(err, &ce) {
		if ce.Listener == "data" {
			return listenFailure("the cluster data listener", "--cluster-data-addr", ce.Addr, ce.Err)
		}
		return listenFailure("the cluster gossip listener", "--cluster-addr", ce.Addr, ce.Err)
	}
	return explain(err)
}

// listenFailure is the line for a listener that could not be opened.
func listenFailure(name, flag, addr string, err error) string {
	return fmt.Sprintf("%s (%s %s): %s", name, flag, addr, cause(err))
}

// cause returns the root of a listen error, without the layers that
// repeat the address: "address already in use", "permission denied".
func cause(err error) string {
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err.Error()
	}
	// An error kept as text (memberlist's transport wraps with %v): its
	// last clause is the cause, by Go's convention of prefixing context.
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
