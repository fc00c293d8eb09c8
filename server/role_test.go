package server_test

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// roleCluster is a cluster whose ROLE is fixed.
type roleCluster struct {
	offset   uint64
	replicas []server.Replica
}

func (r roleCluster) WaitReplicas(int, time.Duration, <-chan struct{}) int { return 0 }
func (r roleCluster) Info() (replication, cluster [][2]string)             { return nil, nil }
func (r roleCluster) Digest() (string, error)                              { return "", nil }
func (r roleCluster) Role() (uint64, []server.Replica)                     { return r.offset, r.replicas }

// TestRole: a single server is a master with no replicas, as Redis
// answers; a cluster node lists its connected peers, with the position of
// its log each has applied, and leaves out the ones not connected.
func TestRole(t *testing.T) {
	c := start(t).dial(t)
	c.expect("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n", "ROLE")
	c.expect("-ERR wrong number of arguments for 'role' command\r\n", "ROLE", "x")

	cl := roleCluster{offset: 42, replicas: []server.Replica{
		{Host: "10.0.0.2", Port: "7947", Offset: 40, Online: true},
		{Host: "10.0.0.3", Port: "7947", Offset: 7, Online: false},
		{Host: "fd00::4", Port: "7948", Offset: 42, Online: true},
	}}
	c = startServer(t, server.Config{Cluster: cl}, nil).dial(t)
	c.expect("*3\r\n$6\r\nmaster\r\n:42\r\n*2\r\n"+
		"*3\r\n$8\r\n10.0.0.2\r\n$4\r\n7947\r\n$2\r\n40\r\n"+
		"*3\r\n$7\r\nfd00::4\r\n$4\r\n7948\r\n$2\r\n42\r\n", "ROLE")
}
