package sessiond

import (
	"testing"
	"time"
)

// Was (found by a review): Clear took its floor version first, then reset
// the shards one by one.
// A write that lands, after the floor was taken, in a shard Clear has not
// reached yet has a version above the floor, is passed to the replicator
// (whose replicas keep it: ClearBefore keeps versions >= the floor) and
// acknowledged, and is then wiped here: the store and its replicas diverge.
func TestClearDropsWriteNewerThanFloor(t *testing.T) {
	q := &queue{}
	st, err := Open(&Options{Replicator: q, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	replica, _ := Open(&Options{Tombstones: true})
	defer replica.Close()

	// A key in the last shard.
	var key string
	for i := 0; ; i++ {
		key = "k" + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		if st.hash(key)&st.mask == st.mask {
			break
		}
	}

	st.shards[0].mu.Lock() // hold Clear at its first shard
	done := make(chan error, 1)
	go func() { done <- st.Clear() }()
	for st.Replica().Floor().IsZero() {
		time.Sleep(time.Millisecond)
	}
	it, err := st.Write(key, []byte("after the flush's version"), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.shards[0].mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	q.drain(t, replica)

	if it.Version.Compare(st.Replica().Floor()) <= 0 {
		t.Fatalf("write version %v not above floor %v", it.Version, st.Replica().Floor())
	}
	_, here, _ := st.Get(key)
	_, there, _ := replica.Get(key)
	if here != there {
		t.Errorf("write at %v above the floor %v: present here %v, on the replica %v", it.Version, st.Replica().Floor(), here, there)
	}
}
