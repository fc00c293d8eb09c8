package sessiond

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/prefetch"
)

// prefetch changes nothing, whatever the keys: present, absent, sharing a
// tag, more than prefetch.MaxKeys, on a store closed.
func TestPrefetchChangesNothing(t *testing.T) {
	st := openTest(t, &Options{Shards: 2})
	st.prefetchMin = 0
	var keys []string
	for i := range 3 * prefetch.MaxKeys {
		k := fmt.Sprintf("k%d", i)
		keys = append(keys, k)
		if i%2 == 0 {
			if err := st.Set(k, []byte(k), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Delete("k4")
	before := st.Stats()
	for _, values := range []bool{false, true} {
		st.prefetch(nil, values)
		st.prefetch(keys, values)
		st.prefetch([]string{"", "k0", "k0"}, values)
	}
	if after := st.Stats(); after != before {
		t.Fatalf("stats changed: %+v, then %+v", before, after)
	}
	for i, k := range keys {
		v, _, ok, err := st.Lookup(nil, k)
		if want := i%2 == 0 && k != "k4"; ok != want || err != nil || (ok && string(v) != k) {
			t.Fatalf("%s: %q %v %v", k, v, ok, err)
		}
	}
	st.Close()
	st.prefetch(keys, true) // Close gave the memory back
}

// prefetch takes each shard's lock: under -race, it runs alongside writes
// that grow the index and compact segments.
func TestPrefetchConcurrentWrites(t *testing.T) {
	st := openTest(t, &Options{Shards: 1})
	st.prefetchMin = 0
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("session:%d", i)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			st.prefetch(keys[i%len(keys):min(i%len(keys)+16, len(keys))], i%2 == 0)
		}
	}()
	val := make([]byte, 300)
	for round := range 4 {
		for _, k := range keys {
			if err := st.Set(k, val, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range keys[round:] {
			st.Delete(k)
		}
	}
	close(stop)
	wg.Wait()
}

// Below prefetchMinUsed, prefetch does nothing; above, it may help.
func TestPrefetchHelps(t *testing.T) {
	st := openTest(t, nil)
	if st.prefetchHelps() {
		t.Fatal("an empty store prefetches")
	}
	val := make([]byte, 4<<10)
	for i := 0; !st.prefetchHelps(); i++ {
		if err := st.Set(fmt.Sprint("k", i), val, time.Hour); err != nil {
			t.Fatal(err)
		}
		if i > 2*prefetchMinUsed/len(val) {
			t.Fatalf("%d bytes in use and no prefetching", st.Stats().UsedMemory)
		}
	}
	if used := st.Stats().UsedMemory; used < prefetchMinUsed {
		t.Fatalf("prefetching with %d bytes in use", used)
	}
}
