package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/cluster"
)

// clusterConfig returns the node's configuration.
func (c *Config) clusterConfig(log *slog.Logger) cluster.Config {
	cc := c.Cluster
	return cluster.Config{
		NodeName: cc.NodeName, BindAddr: cc.Addr, AdvertiseAddr: cc.Advertise, DataAddr: cc.DataAddr,
		Join: cc.Join, JoinTimeout: cc.JoinTimeout, ClusterName: cc.Name, Keys: cc.Keys, Insecure: cc.Insecure,
		SyncReplicas: cc.SyncReplicas, SyncTimeout: cc.SyncTimeout, RepairInterval: cc.RepairInterval, Expect: cc.Expect,
		Logger: log,
	}
}

// clusterInfo serves the server's questions about the cluster from a node.
type clusterInfo struct{ n *cluster.Node }

func (c clusterInfo) WaitReplicas(num int, timeout time.Duration, cancel <-chan struct{}) int {
	return c.n.WaitReplicas(num, timeout, cancel)
}

func (c clusterInfo) Digest() (string, error) { return c.n.Digest() }

// Info renders the node's status as INFO's cluster section: the cluster's
// state and its members (docs/OPERATIONS.md, "Cluster health", says what
// each field means).
func (c clusterInfo) Info() [][2]string {
	s := c.n.Status()
	connected := 0
	for _, m := range s.Members {
		if m.Connected {
			connected++
		}
	}
	fields := [][2]string{
		{"cluster_state", s.Health()},
		{"cluster_ready", strconv.Itoa(b2i(s.Ready))},
		{"cluster_name", s.ClusterName},
		{"cluster_node", s.Name},
		{"cluster_members_expected", strconv.Itoa(s.Expected)},
		{"cluster_members", strconv.Itoa(s.Count(cluster.StateAlive) + s.Count(cluster.StateSuspect))},
		{"cluster_members_alive", strconv.Itoa(s.Count(cluster.StateAlive))},
		{"cluster_members_suspect", strconv.Itoa(s.Count(cluster.StateSuspect))},
		{"cluster_members_failed", strconv.Itoa(s.Count(cluster.StateFailed))},
		{"cluster_members_left", strconv.Itoa(s.Count(cluster.StateLeft))},
		{"cluster_connected_peers", strconv.Itoa(connected)},
		{"cluster_sync_replicas", strconv.Itoa(s.SyncReplicas)},
		{"cluster_logged", strconv.FormatUint(s.Logged, 10)},
		{"cluster_applied", strconv.FormatInt(s.Applied, 10)},
		{"cluster_streamed_in_bytes", strconv.FormatInt(s.StreamedIn, 10)},
		{"cluster_repairs", strconv.FormatInt(s.Repairs, 10)},
		{"cluster_repaired_records", strconv.FormatInt(s.Repaired, 10)},
	}
	now := time.Now()
	for i, m := range s.Members {
		var since int64
		if !m.Since.IsZero() {
			since = int64(now.Sub(m.Since) / time.Second)
		}
		fields = append(fields, [2]string{"member" + strconv.Itoa(i),
			fmt.Sprintf("name=%s,gossip=%s,data=%s,state=%s,state_seconds=%d,self=%d,connected=%d,lag_records=%d,lag_ms=%.3f,sent_bytes=%d",
				m.Name, m.Gossip, m.Data, m.State, since, b2i(m.Self), b2i(m.Connected), m.LagRecords, float64(m.Lag)/1e6, m.SentBytes)})
	}
	return fields
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
