package server

import (
	"strings"
	"time"

	"github.com/sessiond/sessiond"
)

// Cluster is what the server asks of the cluster its store is a member of
// (package cluster's Node, through an adapter in the binary): WAIT, DEBUG
// DIGEST and INFO's cluster section. Nil on a single server. The peers are
// not replicas (every node is a master that takes writes): ROLE and INFO's
// replication section answer as a Redis master without replicas does.
type Cluster interface {
	// WaitReplicas waits until numReplicas peers applied every change
	// made so far, or timeout passes (zero: no limit), or cancel is
	// closed (the connection is stopping), and returns how many did:
	// Redis's WAIT.
	WaitReplicas(numReplicas int, timeout time.Duration, cancel <-chan struct{}) int
	// Info returns the fields of INFO's cluster section, after
	// cluster_enabled.
	Info() [][2]string
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
func cmdDebug(c *respConn, args [][]byte) {
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

// WAIT numreplicas timeout: in a cluster, waits until numreplicas peers
// applied every write made so far (by any client: a superset of this
// connection's), or timeout milliseconds pass (0: no limit), and answers
// how many did. A single server has no replicas: it answers 0 at once
// rather than holding the client for the timeout, since no replica can
// appear to acknowledge.
func cmdWait(c *respConn, args [][]byte) {
	n, ok := c.intArg(args[1])
	if !ok {
		return
	}
	t, ok := parseInt(args[2])
	if !ok {
		c.w.Error("ERR timeout is not an integer or out of range")
		return
	}
	if t < 0 {
		c.w.Error("ERR timeout is negative")
		return
	}
	if c.s.cfg.Cluster == nil {
		c.w.Int(0)
		return
	}
	c.w.Int(int64(c.s.cfg.Cluster.WaitReplicas(int(min(n, 1<<20)), time.Duration(min(t, 1<<40))*time.Millisecond, c.ended)))
}
