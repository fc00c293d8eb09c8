package sessiond

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/disk"
)

// slowFlushes is a Sync that takes a while, as a disk's does, and counts
// the flushes.
type slowFlushes struct{ n atomic.Int64 }

func (s *slowFlushes) options() disk.LogOptions {
	return disk.LogOptions{Sync: func(f *os.File) error {
		s.n.Add(1)
		time.Sleep(2 * time.Millisecond)
		return f.Sync()
	}}
}

// TestPersistFsyncAlwaysSharesFlushes: under FsyncAlways writers on many
// goroutines share flushes (the first waiter flushes for those that come
// meanwhile), every write returns once flushed, and all are there after a
// restart.
func TestPersistFsyncAlwaysSharesFlushes(t *testing.T) {
	dir := t.TempDir()
	var fl slowFlushes
	st := openDir(t, dir, Options{Fsync: FsyncAlways, logOptions: fl.options()})
	const writers, each = 20, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	before := fl.n.Load()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := st.Set(fmt.Sprintf("w%d-%d", w, i), []byte("v"), 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The zeros written ahead of the log take a flush of their own now
	// and then; the writes' flushes are shared.
	if n := fl.n.Load() - before; n > writers*each/4 {
		t.Fatalf("%d writes from %d goroutines took %d flushes: not shared", writers*each, writers, n)
	}
	if p := st.Persistence(); p.Fsyncs == 0 {
		t.Fatal("no flush counted")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openDir(t, dir, Options{})
	defer st.Close()
	for w := range writers {
		for i := range each {
			mustGet(t, st, fmt.Sprintf("w%d-%d", w, i), "v")
		}
	}
}

// TestPersistFsyncAlwaysCloseUnderWrites: a Close while writers wait for
// their flushes ends them (nil or ErrClosed, never a hang or a panic), and
// every write acknowledged is there after a restart.
func TestPersistFsyncAlwaysCloseUnderWrites(t *testing.T) {
	dir := t.TempDir()
	var fl slowFlushes
	st := openDir(t, dir, Options{Fsync: FsyncAlways, logOptions: fl.options()})
	const writers = 10
	var wg sync.WaitGroup
	acked := make([][]string, writers)
	bad := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				err := st.Set(k, []byte("v"), 0)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					bad <- err
					return
				}
				acked[w] = append(acked[w], k)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writers still waiting 10 s after Close")
	}
	close(bad)
	for err := range bad {
		t.Fatalf("a write during Close: %v; want nil or ErrClosed", err)
	}
	st = openDir(t, dir, Options{})
	defer st.Close()
	n := 0
	for _, keys := range acked {
		for _, k := range keys {
			mustGet(t, st, k, "v")
			n++
		}
	}
	if n == 0 {
		t.Fatal("no write was acknowledged before Close")
	}
}
