package cluster

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

// Config configures a Node. Zero fields take the defaults given.
type Config struct {
	// NodeName names the node in the cluster; it must be unique. If
	// empty, the host name.
	NodeName string
	// BindAddr is where the node gossips (memberlist, UDP and TCP),
	// host:port. Required.
	BindAddr string
	// AdvertiseAddr is the gossip address peers should use, if not
	// BindAddr (behind NAT, or when binding 0.0.0.0).
	AdvertiseAddr string
	// DataAddr is where the node accepts the data streams of its peers,
	// host:port. If empty, BindAddr's host and its port plus one. It is
	// advertised to peers in the node's gossip metadata.
	DataAddr string
	// Join lists peers to join: host:port or DNS names (every address a
	// name resolves to is tried). Empty: start a new cluster.
	Join []string
	// JoinTimeout bounds how long Start retries Join, with backoff, before
	// it gives up. If zero, one minute.
	JoinTimeout time.Duration
	// ClusterName keeps clusters apart: nodes with another name are
	// refused. If empty, "sessiond".
	ClusterName string
	// Keys encrypt and authenticate gossip (the memberlist keyring) and
	// the data streams: each of 16, 24 or 32 bytes, at most MaxKeys. The
	// first encrypts what the node sends; every one is tried on what it
	// receives. Two nodes talk if each one's first key is among the
	// other's keys, which is what lets a cluster change its key by rolling
	// restarts: add the new key, make it first, drop the old one. Without
	// keys, the node binds only loopback addresses unless Insecure is set.
	Keys [][]byte
	// Insecure allows binding non-loopback addresses without Keys.
	Insecure bool
	// SyncReplicas is the number of peers that must apply a write before
	// the store acknowledges it. Zero: asynchronous replication.
	SyncReplicas int
	// SyncTimeout bounds the wait for SyncReplicas. If zero, 2 seconds.
	SyncTimeout time.Duration
	// RepairInterval is how often the node compares digests with a peer
	// and exchanges what differs. If zero, 5 seconds.
	RepairInterval time.Duration
	// Expect is the number of members the cluster should have, this node
	// included: Status.Health says degraded while fewer are alive. If
	// zero, one per distinct address in Join that is not this node's own,
	// plus this node (1 without Join).
	Expect int
	// MaxLogBytes bounds the changes held for peers that are behind;
	// a peer that falls further behind is brought up to date by repair.
	// If zero, 64 MiB.
	MaxLogBytes int
	// Logger receives the node's logs and memberlist's. If nil,
	// slog.Default().
	Logger *slog.Logger
}

// MaxKeys bounds Config.Keys: a rotation needs two, and each one is a
// try for every data connection a stranger opens.
const MaxKeys = 8

// Errors that refuse a node's settings. They are wrapped with the
// details, and name the settings as Config names them; a program that
// takes its settings under other names (sessiond's flags) tells them
// apart with errors.Is to name its own.
var (
	// ErrInsecure refuses a node whose addresses are not loopback ones
	// while it has no Keys, unless Insecure says to accept that.
	ErrInsecure = errors.New("no cluster key on a network address")
	// ErrNameConflict refuses a join to a cluster where another live
	// node has this node's name, or the id its name hashes to (NodeID).
	ErrNameConflict = errors.New("node name conflict")
	// ErrMaxValueSize refuses a join to a cluster whose stores take
	// values of another largest size (sessiond.Options.MaxValueSize),
	// which bounds the data messages nodes send each other.
	ErrMaxValueSize = errors.New("another max value size")
)

func (c Config) withDefaults() (Config, error) {
	if c.BindAddr == "" {
		return c, errors.New("cluster: no bind address (Config.BindAddr)")
	}
	host, port, err := splitHostPort(c.BindAddr)
	if err != nil {
		return c, fmt.Errorf("cluster: bind address %q: %w", c.BindAddr, err)
	}
	if c.NodeName == "" {
		if c.NodeName, err = os.Hostname(); err != nil {
			return c, fmt.Errorf("cluster: no node name and no host name: %w", err)
		}
	}
	if len(c.NodeName) > 128 {
		return c, fmt.Errorf("cluster: node name of %d bytes (at most 128)", len(c.NodeName))
	}
	if c.DataAddr == "" {
		if port == 0 {
			c.DataAddr = net.JoinHostPort(host, "0")
		} else {
			c.DataAddr = net.JoinHostPort(host, strconv.Itoa(port+1))
		}
	}
	if c.ClusterName == "" {
		c.ClusterName = "sessiond"
	}
	if len(c.ClusterName) > 128 {
		return c, fmt.Errorf("cluster: cluster name of %d bytes (at most 128)", len(c.ClusterName))
	}
	if len(c.Keys) > MaxKeys {
		return c, fmt.Errorf("cluster: %d keys: at most %d (a rotation needs two)", len(c.Keys), MaxKeys)
	}
	for i, k := range c.Keys {
		switch len(k) {
		case 16, 24, 32:
		default:
			return c, fmt.Errorf("cluster: key %d of %d: %d bytes: want 16, 24 or 32 (AES-128, -192 or -256)", i+1, len(c.Keys), len(k))
		}
	}
	c.Keys = slices.Clone(c.Keys) // the caller's slice may change; ours must not
	if len(c.Keys) == 0 && !c.Insecure {
		for _, a := range []string{c.BindAddr, c.AdvertiseAddr, c.DataAddr} {
			if a != "" && !isLoopback(a) {
				return c, fmt.Errorf("cluster: %w: %s is not a loopback address and there is no cluster key: anyone who reaches it could read and write every session; set Keys, or Insecure on a network you trust", ErrInsecure, a)
			}
		}
	}
	if c.SyncReplicas < 0 {
		return c, fmt.Errorf("cluster: sync replicas %d: must not be negative", c.SyncReplicas)
	}
	if c.Expect < 0 {
		return c, fmt.Errorf("cluster: expect %d members: must not be negative", c.Expect)
	}
	if c.Expect == 0 {
		c.Expect = c.expectFromJoin()
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = 2 * time.Second
	}
	if c.RepairInterval <= 0 {
		c.RepairInterval = 5 * time.Second
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = time.Minute
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = 64 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// isLoopback reports whether addr's host is a loopback address or
// localhost.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NodeID derives the id a node stamps on its versions from its name. Ids
// only break ties between equal clock stamps, so a rare collision costs
// nothing but the tie-break.
func NodeID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32() | 1 // never zero
}
