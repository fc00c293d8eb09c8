package sessiond

import (
	"errors"
	"fmt"
	"os"
	"strings"
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

// holdFlushOf is a Sync that holds the first flush of the log file whose
// name ends in suffix (a log keeps the temporary name it was created
// under) once armed, until release is closed.
type holdFlushOf struct {
	suffix  string
	armed   atomic.Bool
	once    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newHoldFlushOf(suffix string) *holdFlushOf {
	return &holdFlushOf{suffix: suffix, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdFlushOf) options() disk.LogOptions {
	return disk.LogOptions{Sync: func(f *os.File) error {
		if h.armed.Load() && strings.HasSuffix(f.Name(), h.suffix) && h.once.CompareAndSwap(false, true) {
			close(h.entered)
			<-h.release
		}
		return f.Sync()
	}}
}

// TestPersistAlwaysOldLogFlushedFirst: under FsyncAlways a change written
// to a log that a rotation then retired is acknowledged only once that log
// is flushed, however the flushes of the new log go meanwhile. (When a
// change's own flush ran beside the syncer's, it flushed the new log alone
// and acknowledged frames the old one had not flushed yet.)
func TestPersistAlwaysOldLogFlushedFirst(t *testing.T) {
	h := newHoldFlushOf("log.000001.tmp")
	st := openDir(t, t.TempDir(), Options{DeferWrites: true, Fsync: FsyncAlways, logOptions: h.options()})
	defer st.Close()
	if err := st.Set("x", []byte("1"), 0); err != nil { // queued, not written
		t.Fatal(err)
	}
	h.armed.Store(true)
	saved := make(chan error, 1)
	go func() { saved <- st.Save() }() // writes x to log 1, retires it; its flush is held
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("log 1 was not flushed within 10 s of the rotation")
	}
	committed := make(chan error, 1)
	go func() { committed <- st.Commit() }()
	select {
	case err := <-committed:
		close(h.release)
		t.Fatalf("Commit returned (%v) while log 1, which holds x, was not flushed", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(h.release)
	if err := <-committed; err != nil {
		t.Fatalf("Commit once log 1 is flushed: %v", err)
	}
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
}

// TestPersistAlwaysWritesThroughRotation: writes go on through a rotation
// whose retired log's flush is slow, each acknowledged, and the new log
// has its zeros ahead before any change reaches it.
func TestPersistAlwaysWritesThroughRotation(t *testing.T) {
	dir := t.TempDir()
	h := newHoldFlushOf("log.000001.tmp")
	st := openDir(t, dir, Options{Fsync: FsyncAlways, logOptions: h.options()})
	defer st.Close()
	h.armed.Store(true)
	set := make(chan error, 1)
	go func() { set <- st.Set("a", []byte("1"), 0) }()
	<-h.entered // the Set's flush of log 1, held
	saved := make(chan error, 1)
	go func() { saved <- st.Save() }()
	time.Sleep(100 * time.Millisecond)
	close(h.release)
	if err := <-set; err != nil {
		t.Fatalf("Set whose flush overlapped a rotation: %v", err)
	}
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	fs, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Name() == "log.000002" {
			fi, _ := f.Info()
			if fi.Size() < 8<<20 {
				t.Fatalf("the new log is %d bytes before any change reached it; want its zeros ahead (8 MiB)", fi.Size())
			}
		}
	}
	for i := range 20 {
		if err := st.Set(fmt.Sprint("after", i), []byte("1"), 0); err != nil {
			t.Fatalf("Set after the rotation: %v", err)
		}
	}
}
