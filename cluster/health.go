package cluster

import (
	"net"
	"os"
	"strings"
)

// The cluster's state as one node sees it (Status.Health).
const (
	// HealthOK: this node holds every session, and at least the expected
	// number of members, this one included, are alive.
	HealthOK = "ok"
	// HealthDegraded: this node serves and reaches at least one peer (and
	// as many as SyncReplicas), but fewer members than expected are
	// alive: one is suspect, failed, left or never came.
	HealthDegraded = "degraded"
	// HealthFail: this node cannot be counted on. It does not hold every
	// session yet (its join sync is under way), or it reaches no peer
	// while others are expected (they are down or it is cut off: what it
	// takes lives on it alone), or it reaches fewer peers than
	// SyncReplicas (every write fails).
	HealthFail = "fail"
)

// Health returns the cluster's state as this node sees it: HealthOK,
// HealthDegraded or HealthFail.
func (s Status) Health() string {
	alive := s.Count(StateAlive)
	peers := alive - 1 // this node is alive in its own view
	switch {
	case !s.Ready, s.Expected > 1 && peers < 1, peers < s.SyncReplicas:
		return HealthFail
	case alive < s.Expected:
		return HealthDegraded
	}
	return HealthOK
}

// Count returns the number of members in state (StateAlive, ...), this
// node included.
func (s Status) Count(state string) int {
	k := 0
	for _, m := range s.Members {
		if m.State == state {
			k++
		}
	}
	return k
}

// expectFromJoin returns the members a cluster joined through join should
// have: one per distinct address in it that is not this node's own, plus
// this node. A DNS name counts once, whatever number of nodes it names
// (set Expect then).
func (c Config) expectFromJoin() int {
	seen := map[string]bool{}
	for _, a := range c.Join {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			host, port = a, "7946"
		}
		key := net.JoinHostPort(strings.ToLower(host), port)
		if seen[key] || c.isSelf(host, port) {
			continue
		}
		seen[key] = true
	}
	return len(seen) + 1
}

// isSelf reports whether the join address host:port is this node's: its
// bind or advertised address, an address of this machine when it binds
// them all, or its host name or node name (the first label of a DNS name,
// as a StatefulSet's pods are named) on its port.
func (c Config) isSelf(host, port string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	for _, own := range []string{c.BindAddr, c.AdvertiseAddr} {
		h, p, err := net.SplitHostPort(own)
		if err != nil || p != port {
			continue
		}
		h = strings.ToLower(h)
		if h == host {
			return true
		}
		ip := net.ParseIP(h)
		if ip != nil && ip.IsUnspecified() && isLocalIP(host) {
			return true
		}
		label, _, _ := strings.Cut(host, ".")
		hostname, _ := os.Hostname()
		if label != "" && (strings.EqualFold(label, c.NodeName) || strings.EqualFold(label, hostname)) {
			return true
		}
	}
	return false
}

// isLocalIP reports whether host is an address of this machine.
func isLocalIP(host string) bool {
	ip := net.ParseIP(host)
	if ip == nil {
		return host == "localhost"
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
