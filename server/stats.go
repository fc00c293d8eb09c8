package server

// Stats are the server's counters since it started (or since CONFIG
// RESETSTAT, for those INFO resets), for metrics.
type Stats struct {
	// Clients counts the connections open, both protocols;
	// MemcacheClients those of the memcached protocol.
	Clients, MemcacheClients int64
	// Connections counts the connections accepted, both protocols;
	// MemcacheConnections those of the memcached protocol.
	Connections, MemcacheConnections int64
	// Rejected counts the connections refused past MaxClients, Denied
	// those refused by protected mode.
	Rejected, Denied int64
	// Commands counts the commands received, both protocols.
	Commands int64
	// Hits and Misses count the reads that found a key and those that
	// did not.
	Hits, Misses int64
	// NetIn and NetOut count the bytes read from and written to clients.
	NetIn, NetOut int64
	// Serving says the server accepts connections: its listeners are
	// open and it is not shutting down.
	Serving bool
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	t := s.totals()
	return Stats{
		Clients:             s.clients.Load(),
		MemcacheClients:     int64(t.mcOpen),
		Connections:         s.stats.connections.Load(),
		MemcacheConnections: s.mc.total.Load(),
		Rejected:            s.stats.rejected.Load(),
		Denied:              s.stats.denied.Load(),
		Commands:            t.all.commands.Load(),
		Hits:                t.all.hits.Load(),
		Misses:              t.all.misses.Load(),
		NetIn:               t.all.netIn.Load(),
		NetOut:              t.all.netOut.Load(),
		Serving:             s.Serving(),
	}
}

// Serving reports whether the server accepts connections: its listeners
// are open and it is not shutting down.
func (s *Server) Serving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing && len(s.listeners) > 0
}
