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
	// State is alive, suspect, failed or left.
	State string
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
	// Logged is the sequence number of our latest change.
	Logged uint64
	// Applied counts the peers' records applied here; StreamedIn the
	// bytes received on their streams.
	Applied, StreamedIn int64
	// Repairs counts repair rounds that exchanged records, Repaired the
	// records they exchanged.
	Repairs, Repaired int64
	Members           []Member
}

// Status returns the node's view of the cluster.
func (n *Node) Status() Status {
	s := Status{
		Name: n.cfg.NodeName, ClusterName: n.cfg.ClusterName, Ready: n.Ready(),
		SyncReplicas: n.cfg.SyncReplicas, Logged: n.out.last(),
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
	for _, m := range ml.Members() {
		mem := Member{Name: m.Name, Gossip: m.Address(), State: stateName(m.State), Self: m.Name == n.cfg.NodeName}
		if mem.Self {
			mem.Data = n.data.Addr().String()
		}
		if p := peers[m.Name]; p != nil {
			mem.Data = p.addr
			mem.Connected = p.connected.Load()
			mem.SentBytes = p.sentBytes.Load()
			mem.Lag = time.Duration(p.lagMicros.Load()) * time.Microsecond
			if acked, ok := n.acks.get(m.Name); ok && s.Logged > acked {
				mem.LagRecords = s.Logged - acked
			} else if !ok {
				mem.LagRecords = s.Logged
			}
		}
		s.Members = append(s.Members, mem)
	}
	sort.Slice(s.Members, func(i, j int) bool { return s.Members[i].Name < s.Members[j].Name })
	return s
}
