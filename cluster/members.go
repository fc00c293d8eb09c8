package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// maxMsg32 is maxMsg as gossip carries it.
func (n *Node) maxMsg32() uint32 { return uint32(min(uint64(n.maxMsg), math.MaxUint32)) }

// agrees reports whether a node of metadata m can be this one's peer: its
// id differs (unless it is this node), and both take the same largest
// message (a record the other would send in a larger message than this
// node takes would stop the stream for good).
func (n *Node) agrees(name string, m meta) error {
	if m.ID == n.id && name != n.cfg.NodeName {
		// Versions are told apart by the id: two nodes with one id could
		// stamp two different writes with the same version.
		return fmt.Errorf("%w: node %q has the id of this node %q (ids are a hash of the name, %d): give one of them another name", ErrNameConflict, name, n.cfg.NodeName, m.ID)
	}
	if _, err := n.proto.common(name, m.Proto); err != nil {
		return err
	}
	if m.MaxMsg != n.maxMsg32() {
		return fmt.Errorf("%w: node %q takes data messages up to %d bytes and this one %d: give every node's store the same max value size (they may differ only while all are at most %d bytes)",
			ErrMaxValueSize, name, m.MaxMsg, n.maxMsg, maxMessage(0)-256<<10)
	}
	return nil
}

// delegate answers memberlist for the node.
type delegate struct{ n *Node }

func (d delegate) NodeMeta(limit int) []byte {
	port := d.n.data.Addr().(*net.TCPAddr).Port
	return append(meta{DataPort: uint16(port), ID: d.n.id, MaxMsg: d.n.maxMsg32(), Proto: d.n.proto, HTTPPort: uint16(d.n.httpPort.Load())}.encode(), d.n.metaExtra...)
}
func (d delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d delegate) LocalState(join bool) []byte                { return nil }
func (d delegate) MergeRemoteState(buf []byte, join bool)     {}

// NotifyMsg takes a member's leave notice (see announceLeave).
func (d delegate) NotifyMsg(b []byte) {
	if name, ok := decodeLeaveNotice(b); ok {
		d.n.states.noticed(name)
	}
}

// NotifyAlive refuses nodes that are not sessiond nodes of this cluster
// (the cluster name is also memberlist's label, so those rarely get here).
func (d delegate) NotifyAlive(peer *memberlist.Node) error {
	if peer.Name == d.n.cfg.NodeName {
		return nil
	}
	m, err := decodeMeta(peer.Meta)
	if err != nil {
		return err
	}
	return d.n.agrees(peer.Name, m)
}

// NotifyMerge refuses to merge with a cluster that has another live node
// of our name (node names must be unique), or a node this one cannot
// stream with (see agrees). A node of our name that left or failed is
// this node's earlier life (restarted, maybe at another address, as
// containers are): it does not count.
func (d delegate) NotifyMerge(peers []*memberlist.Node) error {
	self := d.n.mlReady.Load() // memberlist may call before Create returns
	for _, p := range peers {
		if p.State == memberlist.StateLeft || p.State == memberlist.StateDead {
			continue
		}
		if p.Name != d.n.cfg.NodeName {
			m, err := decodeMeta(p.Meta)
			if err == nil {
				err = d.n.agrees(p.Name, m)
			}
			if err != nil {
				d.n.conflict.Store(&err)
				return err
			}
			continue
		}
		if self == nil {
			continue
		}
		local := self.LocalNode()
		if !p.Addr.Equal(local.Addr) || p.Port != local.Port {
			err := fmt.Errorf("%w: node name %q is taken by the node at %s: node names must be unique", ErrNameConflict, p.Name, p.Address())
			d.n.conflict.Store(&err)
			return err
		}
	}
	return nil
}

// NotifyConflict logs a node name claimed by two addresses.
func (d delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.n.log.Error("two nodes claim one name; node names must be unique", "node", existing.Name, "address", existing.Address(), "other_address", other.Address())
}

// NotifyJoin starts streaming to a new peer.
func (d delegate) NotifyJoin(node *memberlist.Node) {
	d.n.states.joined(node.Name, node.Address(), d.n.dataAddr(node))
	d.n.httpAddrs.note(node)
	d.n.memberUp(node)
}

// NotifyUpdate follows a peer's new address.
func (d delegate) NotifyUpdate(node *memberlist.Node) {
	d.n.states.moved(node.Name, node.Address(), d.n.dataAddr(node))
	d.n.httpAddrs.note(node)
	d.n.memberUp(node)
}

// NotifyLeave stops streaming to a peer that left or failed.
func (d delegate) NotifyLeave(node *memberlist.Node) {
	d.n.states.left(node.Name, node.Address(), d.n.dataAddr(node))
	d.n.httpAddrs.forget(node.Name)
	d.n.memberDown(node)
}

func (n *Node) createMemberlist() error {
	c := memberlist.DefaultLANConfig()
	if isLoopback(n.cfg.BindAddr) {
		c = memberlist.DefaultLocalConfig()
	}
	c.Name = n.cfg.NodeName
	host, port, _ := splitHostPort(n.cfg.BindAddr)
	c.BindAddr, c.BindPort = host, port
	if n.cfg.AdvertiseAddr != "" {
		ah, ap, err := splitHostPort(n.cfg.AdvertiseAddr)
		if err != nil {
			return fmt.Errorf("cluster: advertise address %q: %w", n.cfg.AdvertiseAddr, err)
		}
		c.AdvertiseAddr, c.AdvertisePort = ah, ap
	}
	// A member that left or failed may come back at another address at
	// once (memberlist otherwise keeps a failed one's address).
	c.DeadNodeReclaimTime = time.Nanosecond
	c.Label = "sessiond/" + n.cfg.ClusterName
	ring, err := keyring(n.cfg.Keys)
	if err != nil {
		return err
	}
	c.Keyring = ring
	d := delegate{n}
	c.Delegate, c.Events, c.Alive, c.Merge, c.Conflict = d, d, d, d, d
	c.Ping = pingDelegate{n}
	c.Logger = log.New(&logWriter{log: n.log.With("source", "memberlist"), suspect: n.states.suspected}, "", 0)
	ml, err := memberlist.Create(c)
	if err != nil {
		// Past the settings checked in New, what memberlist refuses is
		// its transport: the address.
		return &ListenError{Listener: "gossip", Addr: n.cfg.BindAddr, Err: err}
	}
	n.ml = ml
	n.gossipAddr = ml.LocalNode().Address()
	n.mlReady.Store(ml)
	return nil
}

// join joins the cluster through cfg.Join, retrying with backoff, then
// syncs the store from a peer in the background.
func (n *Node) join(ctx context.Context) error {
	deadline := time.Now().Add(n.cfg.JoinTimeout)
	wait := 100 * time.Millisecond
	for {
		addrs := n.resolve(ctx)
		joined, err := n.ml.Join(addrs)
		if joined > 0 {
			n.log.Info("joined the cluster", "through", joined, "members", n.ml.NumMembers())
			break
		}
		if err == nil {
			err = fmt.Errorf("no address to try")
		}
		if conflict := n.conflict.Load(); conflict != nil {
			return fmt.Errorf("cluster: %w", *conflict)
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("cluster: could not join %v within %v: %w", n.cfg.Join, n.cfg.JoinTimeout, explainKeys(err))
		}
		n.log.Warn("join failed; retrying", "join", n.cfg.Join, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
	n.wg.Add(1)
	go n.syncFromPeer()
	return nil
}

// resolve turns the join list into addresses: every address a DNS name
// resolves to is a peer.
func (n *Node) resolve(ctx context.Context) []string {
	var out []string
	for _, a := range n.cfg.Join {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			host, port = a, strconv.Itoa(7946)
		}
		if net.ParseIP(host) != nil {
			out = append(out, net.JoinHostPort(host, port))
			continue
		}
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			n.log.Warn("cannot resolve a join address", "addr", a, "err", err)
			continue
		}
		for _, ip := range ips {
			out = append(out, net.JoinHostPort(ip, port))
		}
	}
	return out
}

// logWriter turns memberlist's log lines ("[LEVEL] memberlist: text")
// into slog records, and tells suspect the members memberlist starts
// suspecting (see memberStates).
type logWriter struct {
	log     *slog.Logger
	suspect func(name string)
}

func (w *logWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{"[DEBUG] ": slog.LevelDebug, "[INFO] ": slog.LevelInfo, "[WARN] ": slog.LevelWarn, "[ERR] ": slog.LevelError} {
		if len(line) >= len(prefix) && line[:len(prefix)] == prefix {
			level, line = l, line[len(prefix):]
			break
		}
	}
	if len(line) > 11 && line[:11] == "memberlist:" {
		line = line[12:]
	}
	if name, ok := suspectLine(line); ok && w.suspect != nil {
		w.suspect(name)
	}
	w.log.Log(context.Background(), level, line)
	return len(p), nil
}
