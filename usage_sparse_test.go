package sessiond

import (
	"fmt"
	"testing"
	"time"
)

// TestSampleTTLSparseIndex: INFO's avg_ttl sample reads a bounded number of
// index slots on a store that once held many keys: the index never
// shrinks, so a walk bounded by entries, not slots, would read the whole
// table of a store whose keys went. On a store that always held few, it
// reads them all.
func TestSampleTTLSparseIndex(t *testing.T) {
	const keep, peak, n = 16, 400_000, 1000
	small := openTest(t, &Options{Shards: 1, ReapInterval: time.Hour})
	sparse := openTest(t, &Options{Shards: 1, ReapInterval: time.Hour})
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
	sample := func(st *Store) (k, slots int) {
		sh := &st.shards[0]
		sh.mu.Lock()
		defer sh.mu.Unlock()
		_, k, slots = sh.sampleTTL(n, st.nowMS())
		return k, slots
	}
	x := &sparse.shards[0].idx
	k, slots := sample(sparse)
	t.Logf("sparse index: %d entries in %d slots; the sample read %d slots and %d keys", x.count, len(x.slots), slots, k)
	if slots > 32*n || len(x.slots) <= 32*n {
		t.Errorf("the sample read %d slots of %d, want at most %d (and a table larger than that, to test it)", slots, len(x.slots), 32*n)
	}
	if k, _ := sample(small); k != keep {
		t.Errorf("a store of %d keys with an expiry: the sample read %d of them, want all", keep, k)
	}
}
