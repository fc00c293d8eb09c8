package ops

import (
	"sync"
	"time"
)

// History defaults: a sample every two seconds, five minutes of them.
const (
	historyEvery = 2 * time.Second
	historyLen   = 150
)

// rate is one point of the commands-per-second history.
type rate struct {
	At  time.Time
	Per float64 // commands per second since the sample before
}

// history is a bounded ring of the commands-per-second rates the
// listener samples from the server's commands counter: the status page's
// chart. Sampling reads one counter every few seconds; the request path
// pays nothing for it.
type history struct {
	mu    sync.Mutex
	ring  []rate // capacity fixed at newHistory
	next  int    // where the next rate goes once the ring is full
	last  int64  // the counter at the latest sample
	lastT time.Time
}

func newHistory(n int) *history { return &history{ring: make([]rate, 0, n)} }

// sample records the commands counter total read at now, and the rate
// since the sample before. The counter falls back when CONFIG RESETSTAT
// resets it: the commands since then are the new total, as Prometheus
// reads a counter reset.
func (h *history) sample(now time.Time, total int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, prevT := h.last, h.lastT
	h.last, h.lastT = total, now
	if prevT.IsZero() {
		return
	}
	dt := now.Sub(prevT).Seconds()
	if dt <= 0 {
		return
	}
	d := total - prev
	if d < 0 {
		d = total
	}
	r := rate{At: now, Per: float64(d) / dt}
	if len(h.ring) < cap(h.ring) {
		h.ring = append(h.ring, r)
		return
	}
	h.ring[h.next] = r
	h.next = (h.next + 1) % len(h.ring)
}

// rates returns the rates held, oldest first.
func (h *history) rates() []rate {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]rate, 0, len(h.ring))
	out = append(out, h.ring[h.next:]...)
	return append(out, h.ring[:h.next]...)
}

// sampleLoop samples the server's counter every interval until stop is
// closed, once the protocol server is up (Serving).
func (s *Server) sampleLoop(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if srv := s.srv.Load(); srv != nil {
				s.history.sample(now, srv.Stats().Commands)
			}
		}
	}
}
