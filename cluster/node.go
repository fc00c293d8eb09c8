// Package cluster makes sessiond stores on several machines one: every node
// holds every session, any node answers any request, and a node that dies
// loses nothing its peers hold.
//
// Membership and failure detection come from hashicorp/memberlist. Data
// does not travel in gossip: each node streams the changes of its store
// (its outbound log) to every peer over one persistent, ordered,
// authenticated connection, and peers apply them by version (the higher
// version of a key wins, and deletes leave versioned tombstones), so the
// order changes arrive in never matters. A joining node streams the whole
// set from one peer before it reports ready; peers compare digests of key
// ranges periodically and exchange what differs, so a healed partition or
// a missed stream converges by itself.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessiond/sessiond"
)

// Node is one store's membership in a cluster. It is the store's
// sessiond.Replicator: pass it in sessiond.Options.Replicator, with
// NodeID set to its ID, then Start it with the store.
type Node struct {
	cfg   Config
	log   *slog.Logger
	id    uint32
	me    hello
	st    *sessiond.Store
	out   *outLog
	acks  *acks
	ml    *memberlist.Memberlist
	data  net.Listener
	ready atomic.Bool // the join sync is done
	// catchingUp is set while a node restarted with its data catches up
	// by difference: streams to it start at their logs' ends.
	catchingUp atomic.Bool
	// peerFailed asks the repair loop to reconcile the survivors.
	peerFailed atomic.Bool
	repairing  sync.Mutex // held by the repair round this node takes part in (TryLock only)
	busyInARow int        // rounds refused in a row (errRepairBusy); the repair loop's

	conflict atomic.Pointer[error] // another node has our name
	mlReady  atomic.Pointer[memberlist.Memberlist]

	mu      sync.Mutex
	peers   map[string]*peer  // by name: the live members but us
	applied map[string]uint64 // name/incarnation -> last entry applied of its log
	inbound map[string]int    // name -> log streams from it being received
	failed  map[string]failedPeer
	gone    map[string]*peer // members that went away, whose place in the log is kept
	conns   map[net.Conn]struct{}
	closed  bool

	maxMsg int // bound on a data message, from the store's MaxValueSize; set by Start

	proto     protoRange // the data protocol versions this node speaks
	metaExtra []byte     // appended to the gossip metadata: tests play a later release

	httpPort  atomic.Uint32 // advertised in the gossip metadata (AdvertiseHTTP)
	httpAddrs httpAddrs     // the members' (HTTPAddrs)

	handshakes chan struct{} // a slot per data connection authenticating
	repairNow  chan struct{} // wakes the repair loop: a peer fell behind the log

	states  *memberStates // each member's state, as memberlist does not show it
	started time.Time     // when Start began: since when this node is alive
	// gossipAddr is the node's gossip address, set by Start.
	gossipAddr string

	stats nodeStats
	wg    sync.WaitGroup
	stop  chan struct{}
}

// nodeStats are counters for INFO.
type nodeStats struct {
	applied    atomic.Int64 // records applied from peers
	streamedIn atomic.Int64 // bytes received on data streams
	repairs    atomic.Int64 // repair rounds that exchanged records
	repaired   atomic.Int64 // records exchanged by repair
}

// maxMessage returns the bound on one data message: a chunk of the log or
// of a sync (closed past 64 KiB) ending with a record of the largest value
// the stores take, with room to spare.
func maxMessage(maxValue int) int { return max(4<<20, maxValue+256<<10) }

// New returns a node for cfg, not yet started.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var inc [8]byte
	rand.Read(inc[:])
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "cluster"),
		id:      NodeID(cfg.NodeName),
		out:     newOutLog(cfg.MaxLogBytes),
		acks:    newAcks(),
		states:  newMemberStates(),
		peers:   map[string]*peer{},
		applied: map[string]uint64{},
		inbound: map[string]int{},
		failed:  map[string]failedPeer{},
		gone:    map[string]*peer{},
		conns:   map[net.Conn]struct{}{},
		stop:    make(chan struct{}),

		handshakes: make(chan struct{}, 64),
		repairNow:  make(chan struct{}, 1),
	}
	n.proto = ours
	n.me = hello{Cluster: cfg.ClusterName, Node: cfg.NodeName, ID: n.id, Incarnation: binary.BigEndian.Uint64(inc[:]), Proto: n.proto}
	return n, nil
}

// ID is the id the store must stamp on its versions (Options.NodeID).
func (n *Node) ID() uint32 { return n.id }

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// GossipAddr is the address the node gossips on, host:port: what others
// pass to Join. Valid after Start.
func (n *Node) GossipAddr() string { return n.ml.LocalNode().Address() }

// Open opens a store that is a member of the cluster cfg describes: the
// way a Go program that embeds sessiond joins the same cluster as the
// sessiond servers. opts may be nil; its NodeID and Replicator are set.
// Close the node, then the store.
func Open(ctx context.Context, cfg Config, opts *sessiond.Options) (*sessiond.Store, *Node, error) {
	n, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	var o sessiond.Options
	if opts != nil {
		o = *opts
	}
	o.NodeID, o.Replicator = n.ID(), n
	st, err := sessiond.Open(&o)
	if err != nil {
		return nil, nil, err
	}
	if err := n.Start(ctx, st); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, n, nil
}

// Start listens for data streams, joins the cluster (retrying with
// backoff until JoinTimeout), and syncs the store from a peer. It returns
// once the node is a member; the sync goes on in the background, and
// Ready reports when it is done.
func (n *Node) Start(ctx context.Context, st *sessiond.Store) error {
	n.st = st
	n.started = time.Now()
	// Data messages are bounded by the largest value the store takes;
	// every node must take the same (see agrees).
	n.maxMsg = maxMessage(st.Options().MaxValueSize)
	n.catchingUp.Store(len(n.cfg.Join) > 0 && n.holdsData())
	data, err := net.Listen("tcp", n.cfg.DataAddr)
	if err != nil {
		return &ListenError{Listener: "data", Addr: n.cfg.DataAddr, Err: err}
	}
	n.data = data
	n.wg.Add(1)
	go n.acceptLoop()

	if err := n.createMemberlist(); err != nil {
		// Close stops the accept loop before Start returns, so that it
		// does not log the closed listener as a failure afterwards.
		n.Close()
		return err
	}
	// The same shape as the server's listening lines, for scripts.
	n.cfg.Logger.Info("listening", "proto", "gossip", "network", "tcp", "addr", n.ml.LocalNode().Address(), "node", n.cfg.NodeName, "cluster_name", n.cfg.ClusterName, "encrypted", len(n.cfg.Keys) > 0, "keys", len(n.cfg.Keys))
	n.cfg.Logger.Info("listening", "proto", "data", "network", "tcp", "addr", data.Addr().String(), "node", n.cfg.NodeName)
	if len(n.cfg.Join) == 0 {
		n.ready.Store(true)
		n.log.Info("cluster started: no peers to join, ready")
	} else if err := n.join(ctx); err != nil {
		n.Close()
		return err
	}
	n.wg.Add(2)
	go n.repairLoop()
	go n.reconnectLoop()
	return nil
}

// Ready reports whether the node holds the whole set: it has finished its
// join sync (or started the cluster).
func (n *Node) Ready() bool { return n.ready.Load() }

// Leave gives the peers the changes they have not acknowledged yet (for
// up to half of timeout), tells them the node is leaving, so that they drop
// it at once instead of waiting for failure detection, and stops
// replicating. The store stays open.
func (n *Node) Leave(timeout time.Duration) error {
	var err error
	if n.ml != nil {
		n.mu.Lock()
		peers := len(n.peers)
		n.mu.Unlock()
		if last := n.out.last(); last > 0 && peers > 0 {
			if got := n.acks.waitCount(last, peers, timeout/2, nil); got < peers {
				n.log.Warn("leaving before every peer acknowledged our last changes", "acknowledged_by", got, "peers", peers)
			}
		}
		// The notice first: memberlist's leave, in gossip, does not
		// say to the others that the member left rather than failed.
		n.announceLeave(min(timeout/4, time.Second))
		err = n.ml.Leave(timeout / 2)
		n.log.Info("left the cluster", "node", n.cfg.NodeName)
	}
	n.Close()
	return err
}

// Close stops the node without a goodbye (peers notice by failure
// detection). The store stays open.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.stop)
	n.acks.close()
	for _, p := range n.peers {
		p.close()
	}
	for _, g := range n.gone {
		n.forget(g)
	}
	for c := range n.conns {
		c.Close()
	}
	n.mu.Unlock()
	if n.data != nil {
		n.data.Close()
	}
	var err error
	if n.ml != nil {
		err = n.ml.Shutdown()
	}
	n.wg.Wait()
	return err
}

// track remembers an open connection, so that Close closes it; it reports
// false when the node is closing.
func (n *Node) track(c net.Conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *Node) untrack(c net.Conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
	c.Close()
}

// Replicate logs a local change for the peers (sessiond.Replicator).
func (n *Node) Replicate(rec sessiond.Record) uint64 { return n.out.appendRecord(&rec) }

// ReplicateClear logs a local Clear (sessiond.Replicator).
func (n *Node) ReplicateClear(v sessiond.Version) uint64 { return n.out.appendClear(v) }

// Wait holds a local change until SyncReplicas peers applied it, or fails
// after SyncTimeout (sessiond.Replicator).
func (n *Node) Wait(ticket uint64) error {
	if n.cfg.SyncReplicas == 0 {
		return nil
	}
	return n.acks.wait(ticket, n.cfg.SyncReplicas, n.cfg.SyncTimeout)
}

// WaitReplicas waits until numReplicas peers applied every change made so
// far, or timeout passes (zero: no limit but the node's life), or cancel
// is closed (nil: never), and returns how many did: Redis's WAIT.
func (n *Node) WaitReplicas(numReplicas int, timeout time.Duration, cancel <-chan struct{}) int {
	ticket := n.out.last()
	if ticket == 0 { // nothing to wait for: the peers streaming now
		n.mu.Lock()
		defer n.mu.Unlock()
		connected := 0
		for _, p := range n.peers {
			if p.connected.Load() {
				connected++
			}
		}
		return connected
	}
	if timeout <= 0 {
		timeout = 24 * time.Hour
	}
	if numReplicas <= 0 {
		return n.acks.reached(ticket)
	}
	return n.acks.waitCount(ticket, numReplicas, timeout, cancel)
}

var errClosed = errors.New("cluster: node closed")
