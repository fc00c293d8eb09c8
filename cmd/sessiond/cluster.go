package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/server"
)

// clusterConfig returns the node's configuration.
func (c *Config) clusterConfig(log *slog.Logger) cluster.Config {
	cc := c.Cluster
	return cluster.Config{
		NodeName: cc.NodeName, BindAddr: cc.Addr, AdvertiseAddr: cc.Advertise, DataAddr: cc.DataAddr,
		Join: cc.Join, JoinTimeout: cc.JoinTimeout, ClusterName: cc.Name, Keys: cc.Keys, Insecure: cc.Insecure,
		SyncReplicas: cc.SyncReplicas, SyncTimeout: cc.SyncTimeout, RepairInterval: cc.RepairInterval,
		Logger: log,
	}
}

// clusterInfo serves the server's questions about the cluster from a node.
type clusterInfo struct{ n *cluster.Node }

func (c clusterInfo) WaitReplicas(num int, timeout time.Duration, cancel <-chan struct{}) int {
	return c.n.WaitReplicas(num, timeout, cancel)
}

func (c clusterInfo) Digest() (string, error) { return c.n.Digest() }

// Role returns the node's log position and its peers as replicas.
func (c clusterInfo) Role() (uint64, []server.Replica) {
	s := c.n.Status()
	return s.Logged, replicas(s)
}

// replicas lists the node's peers as replicas of its writes.
func replicas(s cluster.Status) []server.Replica {
	var rs []server.Replica
	for _, m := range s.Members {
		if m.Self {
			continue
		}
		host, port := m.Data, ""
		if i := strings.LastIndexByte(m.Data, ':'); i >= 0 {
			host, port = m.Data[:i], m.Data[i+1:]
		}
		rs = append(rs, server.Replica{Host: host, Port: port, Offset: s.Logged - min(s.Logged, m.LagRecords),
			Online: m.Connected, LagSeconds: int64(m.Lag / time.Second)})
	}
	return rs
}

// Info renders the node's status as INFO's replication section (every node
// is a master that the others replicate, in Redis's slaveN shape) and
// cluster section.
func (c clusterInfo) Info() (replication, clusterSection [][2]string) {
	s := c.n.Status()
	state := "syncing"
	if s.Ready {
		state = "ok"
	}
	connected := 0
	var peers [][2]string
	for i, r := range replicas(s) {
		online := "offline"
		if r.Online {
			online = "online"
			connected++
		}
		peers = append(peers, [2]string{"slave" + strconv.Itoa(i),
			fmt.Sprintf("ip=%s,port=%s,state=%s,offset=%d,lag=%d", r.Host, r.Port, online, r.Offset, r.LagSeconds)})
	}
	replication = append([][2]string{
		{"role", "master"},
		{"connected_slaves", strconv.Itoa(connected)},
	}, peers...)
	replication = append(replication, [2]string{"master_repl_offset", strconv.FormatUint(s.Logged, 10)})

	clusterSection = [][2]string{
		{"cluster_state", state},
		{"cluster_name", s.ClusterName},
		{"cluster_node", s.Name},
		{"cluster_members", strconv.Itoa(len(s.Members))},
		{"cluster_sync_replicas", strconv.Itoa(s.SyncReplicas)},
		{"cluster_logged", strconv.FormatUint(s.Logged, 10)},
		{"cluster_applied", strconv.FormatInt(s.Applied, 10)},
		{"cluster_streamed_in_bytes", strconv.FormatInt(s.StreamedIn, 10)},
		{"cluster_repairs", strconv.FormatInt(s.Repairs, 10)},
		{"cluster_repaired_records", strconv.FormatInt(s.Repaired, 10)},
	}
	for i, m := range s.Members {
		clusterSection = append(clusterSection, [2]string{"member" + strconv.Itoa(i),
			fmt.Sprintf("name=%s,gossip=%s,data=%s,state=%s,self=%d,connected=%d,lag_records=%d,lag_ms=%.3f,sent_bytes=%d",
				m.Name, m.Gossip, m.Data, m.State, b2i(m.Self), b2i(m.Connected), m.LagRecords, float64(m.Lag)/1e6, m.SentBytes)})
	}
	return replication, clusterSection
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
