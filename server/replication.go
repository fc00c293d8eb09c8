package server

import (
	"crypto/rand"
	"encoding/hex"
)

// sessiond has no replicas in Redis's sense: a cluster's nodes are peers,
// each a master that takes writes and streams them to the others, and none
// follows another (REPLICAOF is not served). So ROLE and INFO's
// replication section answer as a Redis master that never had a replica
// does, field for field (what redis_exporter and dashboards read), and the
// peers, with their streams and lag, are in INFO's cluster section.

// replicationInfo is INFO's replication section: a Redis 7 master without
// replicas. It has no replication stream or backlog, so its offsets are
// 0 and its backlog is inactive and of no size.
func (s *Server) replicationInfo() [][2]string {
	return [][2]string{
		{"role", "master"},
		{"connected_slaves", "0"},
		{"master_failover_state", "no-failover"},
		{"master_replid", s.replID},
		{"master_replid2", "0000000000000000000000000000000000000000"},
		{"master_repl_offset", "0"},
		{"second_repl_offset", "-1"},
		{"repl_backlog_active", "0"},
		{"repl_backlog_size", "0"},
		{"repl_backlog_first_byte_offset", "0"},
		{"repl_backlog_histlen", "0"},
	}
}

// newReplID returns a replication id: 40 random hex digits, new at each
// start, as Redis makes one.
func newReplID() string {
	var b [20]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ROLE: a master with no replicas, at offset 0, as a Redis master without
// replicas answers (see replicationInfo); the same on a cluster node, whose
// peers are not replicas.
func cmdRole(c *respConn, args [][]byte) {
	c.w.Array(3)
	c.w.BulkString("master")
	c.w.Int(0)
	c.w.Array(0)
}
