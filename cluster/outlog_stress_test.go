package cluster

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// Senders that read, write out slowly, rewind, acknowledge and go away,
// while writes keep the log over its bound: no sender ever reads bytes of
// a chunk reused under it. (Run with -race, it also flags a reuse.)
func TestOutLogConcurrentReuse(t *testing.T) {
	l := newOutLog(256 << 10)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for !stop.Load() {
				r := l.reader()
				for i := 0; i < 200 && !stop.Load(); i++ {
					b, first, n, _ := l.read(r)
					if n == 0 {
						time.Sleep(10 * time.Microsecond)
						continue
					}
					// "write it out": walk the entries slowly, checking each.
					off := 0
					for k := 0; k < n; k++ {
						d := decoder{b: b[off+1:]}
						var rec sessiond.Record
						d.record(&rec, 1<<20)
						if d.err != nil || rec.Version.Time != first+uint64(k) {
							bad.Add(1)
							break
						}
						for _, x := range rec.Value {
							if x != byte(rec.Version.Time) {
								bad.Add(1)
								break
							}
						}
						off = len(b) - len(d.b)
						if rnd.IntN(8) == 0 {
							time.Sleep(time.Duration(rnd.IntN(50)) * time.Microsecond)
						}
					}
					l.sent(r)
					switch rnd.IntN(10) {
					case 0:
						l.rewind(r, l.kept(r))
					case 1, 2, 3, 4:
						l.acked(r, first+uint64(n)-1)
					}
				}
				l.close(r)
			}
		}()
	}
	deadline := time.Now().Add(time.Second)
	for seq := uint64(1); time.Now().Before(deadline); seq++ {
		v := make([]byte, rand.IntN(3000))
		for i := range v {
			v[i] = byte(seq)
		}
		if got := l.appendRecord(&sessiond.Record{Key: "k", Value: v, Version: sessiond.Version{Time: seq, Node: 1}}); got != seq {
			t.Fatal("seq")
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d corrupt reads", bad.Load())
	}
}
