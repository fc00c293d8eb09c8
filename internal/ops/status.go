package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sessiond/sessiond/cluster"
)

// The status page's JSON: /status.json is what the page reads, this
// node's figures and history and, in a cluster, every member's figures;
// /status/node.json is this node's figures alone, what the members fetch
// from each other to build their /status.json. docs/OPERATIONS.md
// describes both.

// nodeFigures are one node's own figures.
type nodeFigures struct {
	Name          string  `json:"name"`
	Version       string  `json:"version"`
	Time          string  `json:"time"` // RFC 3339, when the figures were read
	UptimeSeconds float64 `json:"uptime_seconds"`
	Ready         bool    `json:"ready"`
	NotReady      string  `json:"not_ready,omitempty"` // why not, if not
	Serving       bool    `json:"serving"`

	Sessions         int64 `json:"sessions"`
	SessionsExpiring int64 `json:"sessions_expiring"`
	MemoryUsed       int64 `json:"memory_used_bytes"`
	MemoryMax        int64 `json:"memory_max_bytes"` // 0: no cap
	Evictions        int64 `json:"evictions_total"`
	Expirations      int64 `json:"expirations_total"`

	Clients           int64   `json:"clients"`
	Commands          int64   `json:"commands_total"`
	CommandsPerSecond float64 `json:"commands_per_second"` // over the latest sample

	Persistence persistenceFigures `json:"persistence"`
	// Peers are this node's replication streams to the other members.
	Peers []peerFigures `json:"peers"`
}

// persistenceFigures are a node's data directory's state.
type persistenceFigures struct {
	Enabled            bool    `json:"enabled"`
	Loading            bool    `json:"loading"`
	WriteOK            bool    `json:"write_ok"`
	LastSnapshot       string  `json:"last_snapshot,omitempty"` // RFC 3339; absent if none
	LastSnapshotOK     bool    `json:"last_snapshot_ok"`
	LastSnapshotTook   float64 `json:"last_snapshot_duration_seconds"`
	SnapshotInProgress bool    `json:"snapshot_in_progress"`
	LogBytes           int64   `json:"log_bytes"`
	SnapshotBytes      int64   `json:"snapshot_bytes"`
	Changes            int64   `json:"changes_since_snapshot"`
}

// peerFigures are a node's replication stream to one peer.
type peerFigures struct {
	Name       string  `json:"name"`
	State      string  `json:"state"`
	Connected  bool    `json:"connected"`
	LagRecords uint64  `json:"lag_records"`
	LagSeconds float64 `json:"lag_seconds"`
	SentBytes  int64   `json:"sent_bytes"`
}

// statusDoc is /status.json.
type statusDoc struct {
	Node    nodeFigures `json:"node"`
	History historyDoc  `json:"history"`
	// Cluster is absent for a single server.
	Cluster *clusterDoc `json:"cluster,omitempty"`
}

// historyDoc is this node's commands per second over the last minutes.
type historyDoc struct {
	IntervalSeconds float64      `json:"interval_seconds"`
	WindowSeconds   float64      `json:"window_seconds"`
	Samples         []sampleJSON `json:"samples"` // oldest first
}

type sampleJSON struct {
	Time string  `json:"time"` // RFC 3339
	Rate float64 `json:"rate"` // commands per second since the sample before
}

// clusterDoc is the cluster as this node sees it, with each member's
// figures as the member gave them.
type clusterDoc struct {
	Name    string      `json:"name"`
	Ready   bool        `json:"ready"`
	Members []memberDoc `json:"members"`
}

type memberDoc struct {
	Name   string `json:"name"`
	State  string `json:"state"` // as this node's gossip has it
	Self   bool   `json:"self"`
	Gossip string `json:"gossip"`
	HTTP   string `json:"http,omitempty"` // its HTTP listener, if it advertises one
	// Figures are the member's own, or absent if they could not be
	// fetched: Error says why.
	Figures *nodeFigures `json:"figures,omitempty"`
	Error   string       `json:"error,omitempty"`
}

// figures reads this node's own figures.
func (s *Server) figures() nodeFigures {
	now := time.Now()
	f := nodeFigures{Name: s.name, Version: s.cfg.Version, Time: now.UTC().Format(time.RFC3339Nano),
		UptimeSeconds: now.Sub(s.started).Seconds(), Peers: []peerFigures{}}
	f.NotReady = s.notReady()
	f.Ready = f.NotReady == ""
	st := s.cfg.Store.Stats()
	f.Sessions, f.SessionsExpiring = int64(st.Keys), int64(st.Volatile)
	f.MemoryUsed, f.MemoryMax = int64(st.UsedMemory), int64(st.MaxMemory)
	f.Evictions, f.Expirations = int64(st.Evictions), int64(st.Expirations)
	if srv := s.srv.Load(); srv != nil {
		ss := srv.Stats()
		f.Serving, f.Clients, f.Commands = ss.Serving, ss.Clients, ss.Commands
	}
	if rs := s.history.rates(); len(rs) > 0 {
		f.CommandsPerSecond = rs[len(rs)-1].Per
	}
	p := s.cfg.Store.Persistence()
	f.Persistence = persistenceFigures{Enabled: p.Enabled, Loading: p.Loading, WriteOK: p.WriteOK,
		LastSnapshotOK: p.LastSaveOK, LastSnapshotTook: p.LastSaveTime.Seconds(), SnapshotInProgress: p.Saving,
		LogBytes: p.LogSize, SnapshotBytes: p.SnapshotSize, Changes: p.ChangesSinceSave}
	if !p.LastSave.IsZero() {
		f.Persistence.LastSnapshot = p.LastSave.UTC().Format(time.RFC3339Nano)
	}
	if n := s.cfg.Node; n != nil {
		for _, m := range n.Status().Members {
			if !m.Self {
				f.Peers = append(f.Peers, peerFigures{Name: m.Name, State: m.State, Connected: m.Connected,
					LagRecords: m.LagRecords, LagSeconds: m.Lag.Seconds(), SentBytes: m.SentBytes})
			}
		}
	}
	return f
}

// nodeJSON serves /status/node.json: this node's figures.
func (s *Server) nodeJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.figures())
}

// statusJSON serves /status.json: this node's figures and history and,
// in a cluster, each member's figures, fetched from the members in
// parallel with the request's credentials.
func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	doc := statusDoc{Node: s.figures(), History: historyDoc{
		IntervalSeconds: s.historyEvery.Seconds(),
		WindowSeconds:   s.historyEvery.Seconds() * float64(cap(s.history.ring)),
		Samples:         []sampleJSON{},
	}}
	for _, r := range s.history.rates() {
		doc.History.Samples = append(doc.History.Samples, sampleJSON{Time: r.At.UTC().Format(time.RFC3339Nano), Rate: r.Per})
	}
	if n := s.cfg.Node; n != nil {
		st := n.Status()
		doc.Cluster = &clusterDoc{Name: st.ClusterName, Ready: st.Ready, Members: s.members(r, st, n.HTTPAddrs(), doc.Node)}
	}
	writeJSON(w, doc)
}

// members lists the members, each with its figures: this node's own, the
// others' fetched from their HTTP listeners.
func (s *Server) members(r *http.Request, st cluster.Status, addrs map[string]string, self nodeFigures) []memberDoc {
	ms := make([]memberDoc, len(st.Members))
	var wg sync.WaitGroup
	for i, m := range st.Members {
		d := &ms[i]
		*d = memberDoc{Name: m.Name, State: m.State, Self: m.Self, Gossip: m.Gossip, HTTP: addrs[m.Name]}
		switch {
		case m.Self:
			d.Figures = &self
		case m.State != "alive" && m.State != "suspect":
			d.Error = "not asked: gossip says it is " + m.State
		case d.HTTP == "":
			d.Error = "it advertises no HTTP listener (started without --http-addr, or of an older release)"
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				f, err := s.fetchFigures(r.Context(), d.HTTP, r.Header.Get("Authorization"))
				if err == nil && f.Name != m.Name {
					err = fmt.Errorf("%s answered as node %q", d.HTTP, f.Name)
				}
				if err != nil {
					d.Error = err.Error()
					return
				}
				d.Figures = f
			}()
		}
	}
	wg.Wait()
	return ms
}

// peerTimeout bounds the fetch of one member's figures: the page asks
// again in a few seconds.
const peerTimeout = time.Second

// maxFiguresBytes bounds a member's answer.
const maxFiguresBytes = 1 << 20

// errNoCredentials words a member's 401.
var errNoCredentials = errors.New("it refused this page's credentials (is its --requirepass another?)")

// fetchFigures fetches a member's /status/node.json from addr, passing
// authorization on.
func (s *Server) fetchFigures(ctx context.Context, addr, authorization string) (*nodeFigures, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/status/node.json", nil)
	if err != nil {
		return nil, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.peerClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", addr, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, errNoCredentials
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s answered %s", addr, resp.Status)
	}
	var f nodeFigures
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxFiguresBytes)).Decode(&f); err != nil {
		return nil, fmt.Errorf("%s answered figures this node cannot read: %w", addr, err)
	}
	return &f, nil
}

// newPeerClient returns the client that fetches members' figures: no
// proxy (members are reached directly), no redirects, a few idle
// connections kept for the page's next refresh.
func newPeerClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: peerTimeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
