package server

import (
	"fmt"
	"slices"
	"strings"
)

// INFO commandstats and errorstats, in Redis's words: RESP's commands and
// errors, counted since the start or the last CONFIG RESETSTAT. The
// memcached protocol's are in the metrics (internal/ops) and in its own
// stats.

// commandstatsInfo is INFO's commandstats section: a cmdstat_ line per
// command called or refused, by name.
func (s *Server) commandstatsInfo() [][2]string {
	var out [][2]string
	for _, st := range s.commandStats(true) {
		if st.Protocol != "redis" {
			continue
		}
		perCall := 0.0
		if st.Calls > 0 {
			perCall = float64(st.Time.Microseconds()) / float64(st.Calls)
		}
		out = append(out, [2]string{"cmdstat_" + st.Name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			st.Calls, st.Time.Microseconds(), perCall, st.Rejected, st.Failed)})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// errorstatsInfo is INFO's errorstats section: an errorstat_ line per
// kind of error RESP answered.
func (s *Server) errorstatsInfo() [][2]string {
	stats := s.errorStats(true)
	var out [][2]string
	for _, e := range stats {
		if e.Protocol == "redis" {
			out = append(out, [2]string{"errorstat_" + e.Kind, fmt.Sprintf("count=%d", e.Count)})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// totalErrors is INFO's total_error_replies: RESP's error replies since
// the start or the last CONFIG RESETSTAT.
func (s *Server) totalErrors() int64 {
	stats := s.errorStats(true)
	var n int64
	for _, e := range stats {
		if e.Protocol == "redis" {
			n += e.Count
		}
	}
	return n
}
