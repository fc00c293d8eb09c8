package server

import (
	"net"
	"net/netip"
)

// Protected mode, as Redis's: while no password is set (RequirePass), a
// client connecting from another host over TCP is told why with one error
// line and disconnected, so that a server bound to every interface by
// mistake serves nobody's sessions to the network. Clients on a loopback
// address or a Unix socket are served. ProtectedModeOff turns it off.

// The replies a refused connection gets, in each protocol's error form,
// named after Redis's settings as CONFIG GET names them.
const (
	deniedRESP = "-DENIED sessiond is running in protected mode because protected mode is enabled and no password is set. " +
		"In this mode connections are only accepted from the loopback interface and Unix sockets. " +
		"If you want to connect from other computers, do one of the following: " +
		"1) set a password (requirepass) and have clients authenticate with AUTH; " +
		"2) if only networks you trust can reach this port, turn protected mode off (protected-mode no) and restart the server.\r\n"
	deniedMemcache = "SERVER_ERROR sessiond is running in protected mode because protected mode is enabled and no password is set; " +
		"only connections from the loopback interface and Unix sockets are accepted. " +
		"If only networks you trust can reach this port, turn protected mode off (protected-mode no) and restart the server.\r\n"
)

// protected reports whether protected mode is on: no password, and not
// turned off.
func (s *Server) protected() bool {
	return s.cfg.RequirePass == "" && !s.cfg.ProtectedModeOff
}

// fromLocal reports whether a client at addr is on this host's loopback
// interface or a Unix socket, which protected mode serves. (Only TCP
// listeners are checked: a Unix socket's peer address may be unnamed.)
func fromLocal(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.UnixAddr:
		return true
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ok && ip.Unmap().IsLoopback()
	}
	return false
}

// warnUnprotected logs, once at start, what protected mode does with the
// TCP listeners other hosts can reach: refuses their clients (no password
// set), or serves them with no password (protected mode off).
func (s *Server) warnUnprotected() {
	if s.cfg.RequirePass != "" {
		return
	}
	var open []string
	for _, addr := range []string{s.cfg.Addr, s.cfg.TLSAddr, s.cfg.MemcacheAddr} {
		if addr != "" && !isLoopback(addr) {
			open = append(open, addr)
		}
	}
	switch {
	case len(open) == 0:
	case s.cfg.ProtectedModeOff:
		s.log.Warn("protected mode is off and no password is set: clients from other hosts are served without authentication", "addrs", open)
	default:
		s.log.Warn("protected mode: no password is set, so clients from other hosts are refused with an error; set a password, or turn protected mode off to serve them", "addrs", open)
	}
}
