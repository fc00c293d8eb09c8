package cluster

import (
	"fmt"
	"maps"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// AdvertiseHTTP makes the node advertise port, that of its HTTP listener
// for operators, in its gossip metadata: a member's status page reaches
// this node's figures through it (HTTPAddrs). Call it before Start; after,
// the members learn the change within a gossip round or two. Zero
// advertises none.
func (n *Node) AdvertiseHTTP(port int) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("cluster: HTTP port %d out of range", port)
	}
	n.httpPort.Store(uint32(port))
	if ml := n.mlReady.Load(); ml != nil {
		return ml.UpdateNode(time.Second)
	}
	return nil
}

// HTTPAddrs returns, by member name, the address of each live member's
// HTTP listener, host:port: the host of its gossip address and the port
// it advertises (AdvertiseHTTP). A member that advertises none (started
// without one, or of a release before layout 4 of the metadata) is
// absent. This node is present if it advertises one.
func (n *Node) HTTPAddrs() map[string]string {
	return n.httpAddrs.get()
}

// httpAddrs keeps the members' HTTP addresses, read from their metadata
// as memberlist tells of them: its events run under its lock, while the
// nodes Members returns are written on after it returns.
type httpAddrs struct {
	mu sync.Mutex
	m  map[string]string
}

// note records the HTTP address node advertises, or forgets it if none.
func (h *httpAddrs) note(node *memberlist.Node) {
	md, err := decodeMeta(node.Meta)
	if err != nil || md.HTTPPort == 0 {
		h.forget(node.Name)
		return
	}
	addr := net.JoinHostPort(node.Addr.String(), strconv.Itoa(int(md.HTTPPort)))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]string{}
	}
	h.m[node.Name] = addr
}

// forget drops a member's address: it left or failed.
func (h *httpAddrs) forget(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, name)
}

// get returns a copy of the addresses.
func (h *httpAddrs) get() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := maps.Clone(h.m)
	if out == nil {
		out = map[string]string{}
	}
	return out
}
