package persist

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// state is what a key holds, as far as the ledger looks: whether it is
// there, its value, and whether it has a TTL (every TTL the load sets is
// an hour, so any is far from expiring).
type state struct {
	present bool
	value   string
	ttl     bool
}

func (s state) String() string {
	if !s.present {
		return "absent"
	}
	v := s.value
	if len(v) > 24 {
		v = v[:24] + "..."
	}
	if s.ttl {
		return fmt.Sprintf("%q with a TTL", v)
	}
	return fmt.Sprintf("%q without a TTL", v)
}

// entry is one key of the ledger: the state its acknowledged writes left,
// and, if the process died with a write of it in flight, the state that
// write would leave.
type entry struct {
	acked   state
	pending *state
}

// writer writes keys only it writes, one command at a time, and records
// each write in its ledger once the reply came back.
type writer struct {
	prefix    string
	keys      int
	valueSize int
	rng       *rand.Rand

	ledger map[string]*entry
	acks   int
	err    error     // the write that failed and ended the loop
	errAt  time.Time // when it failed
	wrong  []string  // replies that disagreed with the ledger while it ran
}

// load is a set of writers running against one server.
type load struct {
	writers []*writer
	stop    chan struct{} // closed when the test ends
	wg      sync.WaitGroup
}

// Bounds of one run of a load: it stops at whichever comes first, a
// failed write (the server was killed), maxOps writes per writer, maxLoad,
// or the end of the test.
const (
	maxOps  = 1_000_000
	maxLoad = 20 * time.Second
)

// newLoad returns n writers with keys named prefix-wN:K, K below keys,
// values about valueSize bytes. Writers still running when the test ends
// are stopped and waited for.
func newLoad(t *testing.T, prefix string, n, keys, valueSize int, seed uint64) *load {
	l := &load{stop: make(chan struct{})}
	t.Cleanup(func() {
		close(l.stop)
		l.wg.Wait()
	})
	for i := range n {
		l.writers = append(l.writers, &writer{
			prefix:    fmt.Sprintf("%s-w%d", prefix, i),
			keys:      keys,
			valueSize: valueSize,
			rng:       rand.New(rand.NewPCG(seed, uint64(i))),
			ledger:    map[string]*entry{},
		})
	}
	return l
}

// run starts the writers on rdb; a failed write stops them.
func (l *load) run(rdb *redis.Client) {
	for _, w := range l.writers {
		w.err, w.errAt = nil, time.Time{}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			w.run(rdb, l.stop)
		}()
	}
}

// wait waits for the writers to stop by themselves: a write failed, as it
// does once the server is killed.
func (l *load) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the writers did not stop within 30s of the kill")
	}
}

// acks is how many writes were acknowledged.
func (l *load) acks() int {
	n := 0
	for _, w := range l.writers {
		n += w.acks
	}
	return n
}

// checkFailures fails the test for a writer that failed before the server
// was killed at killedAt, or saw a reply that disagreed with its ledger
// since the last check.
func (l *load) checkFailures(t *testing.T, killedAt time.Time) {
	t.Helper()
	for _, w := range l.writers {
		if w.err != nil && w.errAt.Before(killedAt) {
			t.Errorf("%s: a write failed %v before the kill: %v", w.prefix, killedAt.Sub(w.errAt), w.err)
		}
		for _, s := range w.wrong {
			t.Errorf("%s: while it ran: %s", w.prefix, s)
		}
		w.wrong = nil
	}
}

func (w *writer) run(rdb *redis.Client, stop <-chan struct{}) {
	deadline := time.Now().Add(maxLoad)
	for i := 0; i < maxOps && time.Now().Before(deadline); i++ {
		select {
		case <-stop:
			return
		default:
		}
		key := fmt.Sprintf("%s:%d", w.prefix, w.rng.IntN(w.keys))
		e := w.ledger[key]
		if e == nil {
			e = &entry{}
			w.ledger[key] = e
		}
		next, err := w.write(rdb, key, e.acked, i)
		if err != nil {
			e.pending = &next
			w.err, w.errAt = err, time.Now()
			return
		}
		e.acked = next
		w.acks++
	}
}

// write makes one write to key, whose acknowledged state is cur, and
// returns the state it leaves.
func (w *writer) write(rdb *redis.Client, key string, cur state, i int) (state, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch r := w.rng.IntN(10); {
	case r < 3:
		v := w.value(key, i)
		return state{present: true, value: v}, rdb.Set(ctx, key, v, 0).Err()
	case r < 6:
		v := w.value(key, i)
		return state{present: true, value: v, ttl: true}, rdb.Set(ctx, key, v, time.Hour).Err()
	case r < 8:
		n, err := rdb.Del(ctx, key).Result()
		if err == nil && (n == 1) != cur.present {
			w.disagree("DEL %s = %d, but the ledger has it %v", key, n, cur)
		}
		return state{}, err
	default:
		next := cur
		next.ttl = cur.present
		ok, err := rdb.Expire(ctx, key, time.Hour).Result()
		if err == nil && ok != cur.present {
			w.disagree("EXPIRE %s = %v, but the ledger has it %v", key, ok, cur)
		}
		return next, err
	}
}

func (w *writer) disagree(format string, args ...any) {
	if len(w.wrong) < 5 {
		w.wrong = append(w.wrong, fmt.Sprintf(format, args...))
	}
}

// value is write i's value of key: unique, so that the state a key holds
// says which write made it.
func (w *writer) value(key string, i int) string {
	v := fmt.Sprintf("%s#%d|", key, i)
	if n := w.valueSize - len(v); n > 0 {
		v += strings.Repeat(string(rune('a'+i%26)), n)
	}
	return v
}

// verify checks every key the writers touched against their ledgers, then
// takes what the server holds as acknowledged, so that the ledgers carry
// on into another round.
func (l *load) verify(t *testing.T, rdb *redis.Client) {
	t.Helper()
	var keys []string
	var entries []*entry
	for _, w := range l.writers {
		for k, e := range w.ledger {
			keys = append(keys, k)
			entries = append(entries, e)
		}
	}
	got := readStates(t, rdb, keys)
	lost, inFlight := 0, 0
	for i, k := range keys {
		e, g := entries[i], got[i]
		switch {
		case g == e.acked:
		case e.pending != nil && g == *e.pending:
			inFlight++
		default:
			lost++
			if lost <= 10 {
				pending := "none"
				if e.pending != nil {
					pending = e.pending.String()
				}
				t.Errorf("%s: holds %v after the restart; acknowledged: %v; in flight at the kill: %s", k, g, e.acked, pending)
			}
		}
		e.acked, e.pending = g, nil
	}
	if lost > 0 {
		t.Errorf("%d of %d keys do not hold their last acknowledged write", lost, len(keys))
	}
	t.Logf("%d keys checked against %d acknowledged writes; %d hold the write that was in flight", len(keys), l.acks(), inFlight)
}

// readStates reads the state of each key, pipelined.
func readStates(t *testing.T, rdb *redis.Client, keys []string) []state {
	t.Helper()
	out := make([]state, len(keys))
	const batch = 500
	for lo := 0; lo < len(keys); lo += batch {
		hi := min(lo+batch, len(keys))
		var gets []*redis.StringCmd
		var ttls []*redis.DurationCmd
		_, err := rdb.Pipelined(bounded(t), func(p redis.Pipeliner) error {
			for _, k := range keys[lo:hi] {
				gets = append(gets, p.Get(context.Background(), k))
				ttls = append(ttls, p.PTTL(context.Background(), k))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("reading %d keys back: %v", hi-lo, err)
		}
		for i := range gets {
			k := keys[lo+i]
			v, err := gets[i].Result()
			switch {
			case errors.Is(err, redis.Nil):
				if d := ttls[i].Val(); d != -2 {
					t.Errorf("%s: GET says absent, PTTL = %v", k, d)
				}
				continue
			case err != nil:
				t.Fatalf("GET %s: %v", k, err)
			}
			s := state{present: true, value: v}
			switch d, err := ttls[i].Result(); {
			case err != nil:
				t.Fatalf("PTTL %s: %v", k, err)
			case d == -1:
			case d > 50*time.Minute && d <= time.Hour:
				s.ttl = true
			default:
				t.Errorf("%s: PTTL = %v, want -1 or within 10 minutes of the hour every write sets", k, d)
				s.ttl = true
			}
			out[lo+i] = s
		}
	}
	return out
}
