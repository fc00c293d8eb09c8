package server

import "fmt"

// A ListenError is a listener that Listen could not open: which one, and
// why, so that a program can name the setting to change.
type ListenError struct {
	// Proto is the protocol the listener serves: "resp" or "memcache".
	Proto string
	// Network is "tcp" or "unix".
	Network string
	// Addr is the address or the socket's path, as configured.
	Addr string
	// Err is why it could not be opened.
	Err error
}

func (e *ListenError) Error() string {
	if e.Network == "unix" {
		return fmt.Sprintf("server: unix socket %s: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("server: listen on %s: %v", e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }
