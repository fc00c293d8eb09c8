package cluster

import (
	"sort"
	"time"
)

// Member is one member of the cluster as this node sees it.
type Member struct {
	Name string
	// Gossip is its gossip address, Data its data stream address.
	Gossip, Data string
	// State is the member's state as this node sees it: StateAlive;
	// StateSuspect, once this node's own probe of it failed, until it
	// answers again or is declared failed; StateFailed, declared dead by
	// memberlist; StateLeft, gone with a goodbye (Leave). Members failed
	// or left are listed for 10 minutes.
	State string
	// Since is when this node saw the member enter State (for a member
	// there when this node joined, when it learnt of it).
	Since time.Time
	// Self marks this node.
	Self bool
	// Connected says our log stream to it is up.
	Connected bool
	// LagRecords is the number of our changes it has not acknowledged.
	LagRecords uint64
	// Lag is the round trip of its latest acknowledgement.
	Lag time.Duration
	// SentBytes counts the bytes of our log streamed to it.
	SentBytes int64
}

// Status is the node's view of the cluster, for INFO.
type Status struct {
	Name        string
	ClusterName string
	// Ready says the node holds the whole set (its join sync is done).
	Ready bool
	// SyncReplicas is the configured number of synchronous replicas.
	SyncReplicas int
	// Expected is the number of members the cluster should have
	// (Config.Expect).
	Expected int
	// Logged is the sequence number of our latest change.
	Logged uint64
	// Applied counts the peers' records applied here; StreamedIn the
	// bytes received on their streams.
	Applied, StreamedIn int64
	// Repairs counts repair rounds that exchanged records, Repaired the
	// records they exchanged.
	Repairs, Repaired int64
	// Members lists this node, the members in memberlist's list (alive or
	// suspect) and those that failed or left in the last keepPlaceFor, by
	// name.
	Members []Member
}

// Status returns the node's view of the cluster.
func (n *Node) Status() Status {
	s := Status{
		Name: n.cfg.NodeName, ClusterName: n.cfg.ClusterName, Ready: n.Ready(),
		SyncReplicas: n.cfg.SyncReplicas, Expected: n.cfg.Expect, Logged: n.out.last(),
		Applied: n.stats.applied.Load(), StreamedIn: n.stats.streamedIn.Load(),
		Repairs: n.stats.repairs.Load(), Repaired: n.stats.repaired.Load(),
	}
	// Start may be under way (an HTTP listener scrapes a node that
	// joins): what it sets is read only once memberlist is up.
	ml := n.mlReady.Load()
	if ml == nil {
		return s
	}
	n.mu.Lock()
	peers := make(map[string]*peer, len(n.peers))
	for name, p := range n.peers {
		peers[name] = p
	}
	n.mu.Unlock()
	states := n.states.snapshot()
	listed := map[string]bool{}
	for _, m := range ml.Members() {
		listed[m.Name] = true
		mem := Member{Name: m.Name, State: StateAlive, Self: m.Name == n.cfg.NodeName}
		if e, ok := states[m.Name]; ok && !mem.Self {
			mem.Gossip = e.gossip
			// A member memberlist lists is alive or suspect; one that
			// NotifyLeave marked failed and that is listed again is
			// back, before NotifyJoin said so.
			if e.state == StateSuspect {
				mem.State = StateSuspect
			}
			mem.Since = e.since
		}
		if mem.Self {
			mem.Gossip, mem.Data = n.gossipAddr, n.data.Addr().String()
			mem.Since = n.started
		}
		n.peerFigures(&mem, peers[m.Name], s.Logged)
		s.Members = append(s.Members, mem)
	}
	for name, e := range states {
		if listed[name] || (e.state != StateFailed && e.state != StateLeft) {
			continue
		}
		mem := Member{Name: name, Gossip: e.gossip, Data: e.data, State: e.state, Since: e.since}
		n.mu.Lock()
		g := n.gone[name]
		n.mu.Unlock()
		if g != nil {
			mem.SentBytes = g.sentBytes.Load()
		}
		s.Members = append(s.Members, mem)
	}
	sort.Slice(s.Members, func(i, j int) bool { return s.Members[i].Name < s.Members[j].Name })
	return s
}

// peerFigures fills in the figures of the stream to a listed member, p if
// it is a peer (nil otherwise).
func (n *Node) peerFigures(mem *Member, p *peer, logged uint64) {
	if p == nil {
		return
	}
	mem.Data = p.addr
	mem.Connected = p.connected.Load()
	mem.SentBytes = p.sentBytes.Load()
	mem.Lag = time.Duration(p.lagMicros.Load()) * time.Microsecond
	if acked, ok := n.acks.get(mem.Name); ok && logged > acked {
		mem.LagRecords = logged - acked
	} else if !ok {
		mem.LagRecords = logged
	}
}
