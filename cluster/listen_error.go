package cluster

import "fmt"

// A ListenError is a listener that Start could not open: which one, and
// why, so that a program can name the setting to change.
type ListenError struct {
	// Listener is "gossip" (Config.BindAddr, UDP and TCP) or "data"
	// (Config.DataAddr).
	Listener string
	// Addr is the address it was to listen on.
	Addr string
	// Err is why it could not be opened.
	Err error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("cluster: %s listener on %s: %v", e.Listener, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }
