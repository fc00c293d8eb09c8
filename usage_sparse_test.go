package sessiond

import (
	"fmt"
	"testing"
	"time"
)

// TestSampleTTLSparseIndex: INFO's avg_ttl sample costs about the same on a
// store that once held many keys as on one that always held few: the index
// never shrinks, so a walk bounded by entries, not slots, reads the whole
// table of a store whose keys went.
func TestSampleTTLSparseIndex(t *testing.T) {
	minTime := func(st *Store) time.Duration {
		best := time.Hour
		for range 20 {
			t0 := time.Now()
			if _, _, err := st.SampleTTL(1000); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(t0))
		}
		return best
	}
	const keep = 16
	small := openTest(t, &Options{Shards: 1, ReapInterval: time.Hour})
	sparse := openTest(t, &Options{Shards: 1, ReapInterval: time.Hour})
	const peak = 400_000
	for i := range peak {
		if err := sparse.Set(fmt.Sprintf("k%d", i), []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for i := keep; i < peak; i++ {
		if _, err := sparse.Delete(fmt.Sprintf("k%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range keep {
		if err := small.Set(fmt.Sprintf("k%d", i), []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	x := &sparse.shards[0].idx
	t.Logf("sparse index: %d entries in %d slots", x.count, len(x.slots))
	ts, tp := minTime(small), minTime(sparse)
	t.Logf("SampleTTL(1000): %v with %d keys always, %v with %d keys after %d", ts, keep, tp, keep, peak)
	if tp > 20*ts+300*time.Microsecond {
		t.Errorf("SampleTTL on the sparse index took %v, against %v: it walks the whole table", tp, ts)
	}
}
