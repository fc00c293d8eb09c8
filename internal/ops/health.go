package ops

import (
	"encoding/json"
	"net/http"
)

// healthz answers 200 while the process is up and its protocol listeners
// accept connections (or it is starting, or stopping): a liveness probe.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	srv := s.srv.Load()
	switch {
	case srv == nil:
		w.Write([]byte("ok: starting\n"))
	case !srv.Serving() && !s.stopping.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not accepting connections\n"))
	default:
		w.Write([]byte("ok\n"))
	}
}

// readyz answers 200 once the node can serve every session it should
// hold: its data directory loaded, its join sync done, and not shutting
// down; otherwise 503, with the reason as one line of JSON. A readiness
// probe.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	reason := s.notReady()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason,omitempty"`
	}{reason == "", reason})
}

// notReady returns why the node is not ready, "" if it is.
func (s *Server) notReady() string {
	if s.stopping.Load() {
		return "shutting down"
	}
	select {
	case <-s.cfg.Store.Loaded():
		if err := s.cfg.Store.LoadError(); err != nil {
			return "the data directory did not load: " + err.Error()
		}
	default:
		return "loading the data directory"
	}
	if n := s.cfg.Node; n != nil && !n.Ready() {
		return "joining the cluster: not yet holding every session"
	}
	srv := s.srv.Load()
	if srv == nil {
		return "starting: not listening yet"
	}
	if !srv.Serving() {
		return "not accepting connections"
	}
	return ""
}
