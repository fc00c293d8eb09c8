package server

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The latency monitor records, as Redis's does, the commands that took at
// least Config.LatencyMonitorThreshold: by event ("command" for the
// commands that may take long, "fast-command" for the others), one sample a
// second (the slowest), the latest latencyHistory seconds of them, and the
// slowest ever, for LATENCY LATEST and LATENCY HISTORY. LATENCY HISTOGRAM
// answers from every command's counters (cmdstats.go), monitor or not.

// latencyHistory is how many samples an event keeps, as Redis keeps.
const latencyHistory = 160

// latencySample is the slowest latency of an event in one second.
type latencySample struct {
	at   int64 // unix seconds
	took time.Duration
}

// latencyEvent is one event's samples.
type latencyEvent struct {
	samples []latencySample // oldest first, at most latencyHistory
	max     time.Duration
}

// latencyMonitor is the server's latency monitor.
type latencyMonitor struct {
	threshold time.Duration // zero: off

	mu     sync.Mutex
	events map[string]*latencyEvent
}

func (m *latencyMonitor) init(threshold time.Duration) { m.threshold = max(threshold, 0) }

// over reports whether a command that took d is recorded.
func (m *latencyMonitor) over(d time.Duration) bool { return m.threshold > 0 && d >= m.threshold }

// add records a latency of an event.
func (m *latencyMonitor) add(event string, d time.Duration) {
	now := time.Now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = map[string]*latencyEvent{}
	}
	e := m.events[event]
	if e == nil {
		e = &latencyEvent{}
		m.events[event] = e
	}
	e.max = max(e.max, d)
	if n := len(e.samples); n > 0 && e.samples[n-1].at == now {
		e.samples[n-1].took = max(e.samples[n-1].took, d)
		return
	}
	if len(e.samples) == latencyHistory {
		e.samples = append(e.samples[:0], e.samples[1:]...)
	}
	e.samples = append(e.samples, latencySample{at: now, took: d})
}

// LATENCY LATEST | HISTORY event | RESET [event ...] | HISTOGRAM [command ...] | DOCTOR | HELP
func cmdLatency(c *respConn, args [][]byte) {
	m := &c.s.latency
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "latest" && len(args) == 2:
		m.mu.Lock()
		defer m.mu.Unlock()
		names := m.names()
		c.w.Array(len(names))
		for _, name := range names {
			e := m.events[name]
			last := e.samples[len(e.samples)-1]
			c.w.Array(4)
			c.w.BulkString(name)
			c.w.Int(last.at)
			c.w.Int(last.took.Milliseconds())
			c.w.Int(e.max.Milliseconds())
		}
	case sub == "history" && len(args) == 3:
		m.mu.Lock()
		defer m.mu.Unlock()
		e := m.events[string(args[2])]
		if e == nil {
			c.w.Array(0)
			return
		}
		c.w.Array(len(e.samples))
		for _, s := range e.samples {
			c.w.Array(2)
			c.w.Int(s.at)
			c.w.Int(s.took.Milliseconds())
		}
	case sub == "reset":
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		if len(args) == 2 {
			n = len(m.events)
			m.events = nil
		}
		for _, a := range args[2:] {
			if _, ok := m.events[string(a)]; ok {
				delete(m.events, string(a))
				n++
			}
		}
		c.w.Int(int64(n))
	case sub == "histogram":
		c.latencyHistogram(args[2:])
	case sub == "doctor" && len(args) == 2:
		c.w.Verbatim("txt", m.doctor())
	case sub == "help" && len(args) == 2:
		c.help("LATENCY", latencyHelp...)
	default:
		c.subcommandError("latency", args, "latest", "history", "doctor", "help")
	}
}

// names returns the events recorded, sorted. m.mu is held.
func (m *latencyMonitor) names() []string {
	names := make([]string, 0, len(m.events))
	for name := range m.events {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// doctor describes the events recorded, in words.
func (m *latencyMonitor) doctor() string {
	if m.threshold == 0 {
		return "The latency monitor is off: start sessiond with --latency-monitor-threshold MS to record the commands that take at least MS milliseconds.\n"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.events) == 0 {
		return fmt.Sprintf("No command took %v or more since the start (or the last LATENCY RESET).\n", m.threshold)
	}
	var b strings.Builder
	for _, name := range m.names() {
		e := m.events[name]
		var sum time.Duration
		for _, s := range e.samples {
			sum += s.took
		}
		last := e.samples[len(e.samples)-1]
		fmt.Fprintf(&b, "%s: %d latency spikes (at least %v) in the samples kept; average %v, worst %v; latest %v at %s.\n",
			name, len(e.samples), m.threshold, (sum / time.Duration(len(e.samples))).Round(time.Millisecond),
			e.max.Round(time.Millisecond), last.took.Round(time.Millisecond), time.Unix(last.at, 0).UTC().Format(time.RFC3339))
	}
	b.WriteString("SLOWLOG GET lists the commands themselves; INFO commandstats and LATENCY HISTOGRAM give every command's time.\n")
	return b.String()
}

// latencyHistogram answers LATENCY HISTOGRAM as Redis does, counting from
// the start or CONFIG RESETSTAT: for each command asked for (all that
// ran, with none asked for), its calls and the cumulative counts at each
// power of two microseconds.
func (c *respConn) latencyHistogram(names [][]byte) {
	var want map[string]bool
	if len(names) > 0 {
		want = map[string]bool{}
		for _, n := range names {
			want[strings.ToLower(string(n))] = true
		}
	}
	var stats []CommandStat
	for _, st := range c.s.commandStats(true) {
		if st.Protocol == "redis" && st.Calls > 0 && (want == nil || want[st.Name]) {
			stats = append(stats, st)
		}
	}
	c.w.Map(len(stats))
	for _, st := range stats {
		c.w.BulkString(st.Name)
		c.w.Map(2)
		c.w.BulkString("calls")
		c.w.Int(st.Calls)
		c.w.BulkString("histogram_usec")
		// As Redis: the buckets where the cumulative count grows (the
		// last, past a second, at the bound it would have).
		n := 0
		for _, k := range st.Buckets {
			if k > 0 {
				n++
			}
		}
		c.w.Map(n)
		var cum int64
		for i, k := range st.Buckets {
			if k > 0 {
				cum += k
				c.w.Int(LatencyBound(i).Microseconds())
				c.w.Int(cum)
			}
		}
	}
}

var latencyHelp = []string{
	"DOCTOR",
	"    Return a human readable latency analysis report.",
	"HISTORY <event>",
	"    Return time-latency samples for the <event> class.",
	"LATEST",
	"    Return the latest latency samples for all events.",
	"RESET [<event> ...]",
	"    Reset latency data of one or more <event> classes.",
	"    (default: reset all data for all event classes)",
	"HISTOGRAM [COMMAND ...]",
	"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
	"    If no commands are specified then all histograms are replied.",
}
