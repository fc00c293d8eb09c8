package server

import (
	"strings"
	"time"

	"github.com/sessiond/sessiond"
)

// Cluster is what the server asks of the cluster its store is a member of
// (package cluster's Node, through an adapter in the binary): WAIT, DEBUG
// DIGEST, and INFO's replication and cluster sections. Nil on a single
// server.
type Cluster interface {
	// WaitReplicas waits until numReplicas peers applied every change
	// made so far, or timeout passes (zero: no limit), or cancel is
	// closed (the connection is stopping), and returns how many did:
	// Redis's WAIT.
	WaitReplicas(numReplicas int, timeout time.Duration, cancel <-chan struct{}) int
	// Info returns the fields of INFO's replication and cluster sections.
	Info() (replication, cluster [][2]string)
	// Digest returns a digest of the store's whole set: nodes that
	// converged return the same one.
	Digest() (string, error)
}

// errNoReplicas is Redis's reply when a write lacks its replicas; the
// store's reason follows it.
const errNoReplicas = "NOREPLICAS Not enough good replicas to write"

// noReplicasError renders a sessiond.ErrNotReplicated error.
func noReplicasError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, sessiond.ErrNotReplicated.Error()+": "); i >= 0 {
		msg = msg[i+len(sessiond.ErrNotReplicated.Error())+2:]
	}
	return errNoReplicas + ": " + msg + " (it is applied on this node)"
}

// DEBUG DIGEST: a digest of the whole set, which converged nodes share.
// Only the DIGEST subcommand is served.
func cmdDebug(c *conn, args [][]byte) {
	if !strings.EqualFold(string(args[1]), "digest") || len(args) != 2 {
		c.subcommandError("debug", args, "digest")
		return
	}
	if c.s.cfg.Cluster == nil {
		c.w.Error("ERR DEBUG DIGEST needs a cluster: this server is not a cluster node")
		return
	}
	d, err := c.s.cfg.Cluster.Digest()
	if err != nil {
		c.storeError(err)
		return
	}
	c.w.Simple(d)
}
