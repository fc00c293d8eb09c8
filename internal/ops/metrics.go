package ops

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/server"
)

// collector reads the store's, the server's and the node's counters when
// Prometheus scrapes: the request path keeps its own counters, which it
// already has for INFO, and pays nothing for the metrics.
type collector struct{ s *Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("sessiond_"+name, help, labels, nil)
}

var (
	buildInfo = desc("build_info", "The binary's version and the Go release that built it; always 1.", "version", "goversion")

	sessions    = desc("sessions", "Live sessions (keys); expired ones count until reclaimed.")
	expiring    = desc("sessions_expiring", "Live sessions that have an expiry.")
	tombstones  = desc("tombstones", "Deletes kept so that replicas cannot bring the sessions back.")
	memUsed     = desc("memory_used_bytes", "Memory taken for records and the index: what --maxmemory caps.")
	memMax      = desc("memory_max_bytes", "The --maxmemory cap; 0 for none.")
	recordBytes = desc("record_bytes", "Stored size of the live records and tombstones: headers, keys and values.")
	evictions   = desc("evictions_total", "Sessions evicted to stay under --maxmemory.")
	expirations = desc("expirations_total", "Sessions reclaimed after they expired.")
	indexUsers  = desc("user_index_users", "Users the user index (--user-field) files sessions under; 0 without the index.")
	indexed     = desc("user_index_sessions", "Sessions the user index files under a user; expired ones count until reclaimed.")

	clients      = desc("connections", "Client connections open.", "protocol")
	accepted     = desc("connections_received_total", "Client connections accepted, both protocols, refused ones included.")
	refused      = desc("connections_refused_total", "Client connections refused, by reason: maxclients, or protected mode.", "reason")
	commands     = desc("commands_total", "Commands run, both protocols (refused ones are not counted: INFO's total_commands_processed).")
	hits         = desc("keyspace_hits_total", "Reads that found their session.")
	misses       = desc("keyspace_misses_total", "Reads that did not find their session.")
	netIn        = desc("network_received_bytes_total", "Bytes read from clients.")
	netOut       = desc("network_sent_bytes_total", "Bytes written to clients.")
	serving      = desc("serving", "1 while the protocol listeners accept connections.")
	cmdDuration  = desc("command_duration_seconds", "Time each command took, from its read (or the end of the command before it on its connection) to its reply, by command and protocol (redis or memcache).", "protocol", "command")
	cmdFailed    = desc("command_failures_total", "Commands that ran and answered an error, by command and protocol.", "protocol", "command")
	cmdRejected  = desc("command_rejections_total", "Commands refused before they ran (wrong arity, no authentication, still loading), by command and protocol.", "protocol", "command")
	errorReplies = desc("error_replies_total", "Error replies, by protocol and kind: the reply's first word (ERR, WRONGTYPE, NOAUTH...; ERROR, CLIENT_ERROR, SERVER_ERROR over memcached).", "protocol", "kind")
	persistOn    = desc("persistence_enabled", "1 with a data directory (--dir).")
	loading      = desc("persistence_loading", "1 while the data directory loads.")
	writeOK      = desc("persistence_write_ok", "0 while writes are refused because the log cannot be written (MISCONF).")
	lastSave     = desc("persistence_last_snapshot_timestamp_seconds", "When the last snapshot completed (or the directory loaded), Unix time.")
	lastSaveOK   = desc("persistence_last_snapshot_success", "0 if the last snapshot failed.")
	lastSaveTook = desc("persistence_last_snapshot_duration_seconds", "How long the last snapshot took.")
	saves        = desc("persistence_snapshots_total", "Snapshots taken since the start.")
	saving       = desc("persistence_snapshot_in_progress", "1 while a snapshot is written.")
	logBytes     = desc("persistence_log_bytes", "Bytes of log written since the last snapshot began: what a start replays.")
	snapBytes    = desc("persistence_snapshot_bytes", "Size of the last snapshot.")
	changes      = desc("persistence_changes_since_snapshot", "Changes logged since the last snapshot began.")
	fsync        = desc("persistence_fsync_duration_seconds", "Time each flush of the log to disk took.")

	clusterReady   = desc("cluster_ready", "1 once the node holds every session: its join sync is done.")
	members        = desc("cluster_members", "Members this node sees, by state (alive, suspect, failed, left).", "state")
	membersWanted  = desc("cluster_members_expected", "Members the cluster should have (--cluster-expect).")
	clusterState   = desc("cluster_state", "1 for the cluster's state as this node sees it (ok, degraded, fail), 0 for the others: INFO's cluster_state.", "state")
	peerState      = desc("cluster_peer_state", "1 for the peer's state as this node sees it (alive, suspect, failed or left), 0 for the others.", "peer", "state")
	peerUp         = desc("cluster_peer_connected", "1 while this node's stream to the peer is up.", "peer")
	peerLag        = desc("cluster_peer_lag_records", "Changes of this node the peer has not acknowledged.", "peer")
	peerLagSeconds = desc("cluster_peer_lag_seconds", "Round trip of the peer's latest acknowledgement.", "peer")
	peerSent       = desc("cluster_peer_sent_bytes_total", "Bytes of this node's log streamed to the peer.", "peer")
	applied        = desc("cluster_applied_records_total", "Peers' records applied here.")
	streamedIn     = desc("cluster_received_bytes_total", "Bytes received on the peers' streams.")
	repairs        = desc("cluster_repair_rounds_total", "Repair rounds that exchanged records.")
	repaired       = desc("cluster_repaired_records_total", "Records exchanged by repair rounds.")
)

// Describe sends nothing: the collector is unchecked, as its peer metrics
// come and go with the members.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads every figure once per scrape.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(buildInfo, 1, c.s.cfg.Version, runtime.Version())

	st := c.s.cfg.Store.Stats()
	gauge(sessions, float64(st.Keys))
	gauge(expiring, float64(st.Volatile))
	gauge(tombstones, float64(st.Tombstones))
	gauge(memUsed, float64(st.UsedMemory))
	gauge(memMax, float64(st.MaxMemory))
	gauge(recordBytes, float64(st.RecordBytes))
	counter(evictions, float64(st.Evictions))
	counter(expirations, float64(st.Expirations))
	gauge(indexUsers, float64(st.Users))
	gauge(indexed, float64(st.UserSessions))

	if srv := c.s.srv.Load(); srv != nil {
		s := srv.Stats()
		gauge(clients, float64(s.Clients-s.MemcacheClients), "redis")
		gauge(clients, float64(s.MemcacheClients), "memcache")
		counter(accepted, float64(s.Connections))
		counter(refused, float64(s.Rejected), "maxclients")
		counter(refused, float64(s.Denied), "protected_mode")
		counter(commands, float64(s.Commands))
		counter(hits, float64(s.Hits))
		counter(misses, float64(s.Misses))
		counter(netIn, float64(s.NetIn))
		counter(netOut, float64(s.NetOut))
		gauge(serving, b2f(s.Serving))
		collectCommands(ch, srv, counter)
	}

	c.collectPersistence(ch, gauge, counter)
	c.collectCluster(gauge, counter)
}

// collectCommands sends each command's latency histogram, failures and
// rejections, and the error replies by kind.
func collectCommands(ch chan<- prometheus.Metric, srv *server.Server, counter func(*prometheus.Desc, float64, ...string)) {
	for _, st := range srv.CommandStats() {
		buckets := make(map[float64]uint64, server.LatencyBuckets-1)
		var cum uint64
		for i := range server.LatencyBuckets - 1 { // the last is +Inf
			cum += uint64(st.Buckets[i])
			buckets[server.LatencyBound(i).Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(cmdDuration, uint64(st.Calls), st.Time.Seconds(), buckets, st.Protocol, st.Name)
		counter(cmdFailed, float64(st.Failed), st.Protocol, st.Name)
		counter(cmdRejected, float64(st.Rejected), st.Protocol, st.Name)
	}
	for _, e := range srv.ErrorStats() {
		counter(errorReplies, float64(e.Count), e.Protocol, e.Kind)
	}
}

func (c *collector) collectPersistence(ch chan<- prometheus.Metric, gauge, counter func(*prometheus.Desc, float64, ...string)) {
	p := c.s.cfg.Store.Persistence()
	gauge(persistOn, b2f(p.Enabled))
	if !p.Enabled {
		return
	}
	gauge(loading, b2f(p.Loading))
	gauge(writeOK, b2f(p.WriteOK))
	if !p.LastSave.IsZero() {
		gauge(lastSave, float64(p.LastSave.UnixNano())/1e9)
	}
	gauge(lastSaveOK, b2f(p.LastSaveOK))
	gauge(lastSaveTook, p.LastSaveTime.Seconds())
	counter(saves, float64(p.Saves))
	gauge(saving, b2f(p.Saving))
	gauge(logBytes, float64(p.LogSize))
	gauge(snapBytes, float64(p.SnapshotSize))
	gauge(changes, float64(p.ChangesSinceSave))
	buckets := make(map[float64]uint64, len(sessiond.FsyncBounds))
	var cum uint64
	for i, b := range sessiond.FsyncBounds {
		cum += uint64(p.FsyncBuckets[i])
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(fsync, uint64(p.Fsyncs), p.FsyncTime.Seconds(), buckets)
}

func (c *collector) collectCluster(gauge, counter func(*prometheus.Desc, float64, ...string)) {
	n := c.s.cfg.Node
	if n == nil {
		return
	}
	s := n.Status()
	gauge(clusterReady, b2f(s.Ready))
	byState := map[string]int{"alive": 0, "suspect": 0, "failed": 0, "left": 0}
	for _, m := range s.Members {
		byState[m.State]++
		if m.Self {
			continue
		}
		for _, st := range []string{"alive", "suspect", "failed", "left"} {
			gauge(peerState, b2f(m.State == st), m.Name, st)
		}
		gauge(peerUp, b2f(m.Connected), m.Name)
		gauge(peerLag, float64(m.LagRecords), m.Name)
		gauge(peerLagSeconds, m.Lag.Seconds(), m.Name)
		counter(peerSent, float64(m.SentBytes), m.Name)
	}
	for state, k := range byState {
		gauge(members, float64(k), state)
	}
	gauge(membersWanted, float64(s.Expected))
	health := s.Health()
	for _, h := range []string{cluster.HealthOK, cluster.HealthDegraded, cluster.HealthFail} {
		gauge(clusterState, b2f(h == health), h)
	}
	counter(applied, float64(s.Applied))
	counter(streamedIn, float64(s.StreamedIn))
	counter(repairs, float64(s.Repairs))
	counter(repaired, float64(s.Repaired))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
