package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/cluster"
)

// clusterConfig returns the node's configuration.
func (c *Config) clusterConfig(log *slog.Logger) cluster.Config {
	cc := c.Cluster
	return cluster.Config{
		NodeName: cc.NodeName, BindAddr: cc.Addr, AdvertiseAddr: cc.Advertise, DataAddr: cc.DataAddr,
		Join: cc.Join, JoinTimeout: cc.JoinTimeout, ClusterName: cc.Name, Key: cc.Key, Insecure: cc.Insecure,
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
	for _, m := range s.Members {
		if m.Self {
			continue
		}
		if m.Connected {
			connected++
		}
		online := "offline"
		if m.Connected {
			online = "online"
		}
		host, port := m.Data, ""
		if i := strings.LastIndexByte(m.Data, ':'); i >= 0 {
			host, port = m.Data[:i], m.Data[i+1:]
		}
		peers = append(peers, [2]string{"slave" + strconv.Itoa(len(peers)),
			fmt.Sprintf("ip=%s,port=%s,state=%s,offset=%d,lag=%d", host, port, online, s.Logged-min(s.Logged, m.LagRecords), int64(m.Lag/time.Second))})
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
