package sessiond

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/disk"
)

// The journal writes every change the store makes to the log of its data
// directory, under the lock of the change's partition, so that the changes
// of a key are in the log in the order they were made. An append is a copy
// into the log's mapping (package disk): when the change's operation
// returns, the change is in the kernel's page cache, where a crash of the
// process cannot lose it. A syncer goroutine flushes the log to the disk
// as the FsyncPolicy says; under FsyncAlways each change waits for the
// flush that covers it, and all the changes made meanwhile share it.

// Kinds of log entry: the first byte of a frame's body. The rest is the
// record in the store's own layout (layout.go).
const (
	entryPut   = 'P' // a write: the record replaces any of a lower version
	entryTomb  = 'T' // a delete at the record's version
	entryDrop  = 'D' // an eviction: the record of this version or lower goes, leaving nothing
	entryClear = 'C' // a clear: every record under this version goes
)

// journal is the store's side of the data directory.
type journal struct {
	st     *Store
	dir    *disk.Dir
	policy FsyncPolicy
	log    *slog.Logger
	lopts  disk.LogOptions

	mu      sync.Mutex
	cur     *disk.Log
	base    uint64      // position of cur's offset 0: positions run on across logs
	old     []*disk.Log // logs rotated out, to sync and close
	failed  error       // why changes are refused; under mu
	sinceSn int64       // log bytes written since the last snapshot began
	changes int64       // changes since the last snapshot began
	newest  uint64      // the newest version time loaded at start

	broken  atomic.Bool   // failed != nil, for the lock-free check
	synced  atomic.Uint64 // every position below is on the disk
	written atomic.Uint64 // every position below is in the kernel

	syncMu   sync.Mutex
	syncCond *sync.Cond
	syncErr  error // the last flush's failure, for waiters; under syncMu
	kick     chan struct{}
	compact  chan struct{}  // a compaction is due
	grow     chan *disk.Log // the log is to grow ahead of its appends
	growing  bool           // a growth is asked for or under way; under mu
	prepMu   sync.Mutex     // held while a log is prepared: it is closed only without it
	growDone chan struct{}  // closed when growLoop returns
	saveMu   sync.Mutex     // held by the snapshot being written
	started  bool           // the syncer runs

	stats persistStats

	stop chan struct{}
	done chan struct{}
}

// pending is what a change leaves its operation to wait for once it has
// unlocked: the log flush (FsyncAlways) and the replicator.
type pending struct {
	repl uint64 // the replicator's ticket; 0 for none
	pos  uint64 // the log position to wait for; 0 for none
	err  error  // the log could not take the change
}

// persist appends a change of key to the log. It is called with the key's
// partition locked; it returns the position to wait for under
// FsyncAlways. A store without a data directory, or one loading it, does
// nothing.
func (sh *shard) persist(kind byte, key string, value []byte, it Item) (pos uint64, err error) {
	j := sh.st.journal
	if j == nil || sh.st.loading.Load() {
		return 0, nil
	}
	return j.append(kind, key, value, it)
}

func (j *journal) append(kind byte, key string, value []byte, it Item) (uint64, error) {
	var state byte
	if kind == entryTomb {
		state = recTomb
	}
	n := 1 + recordSize(len(key), len(value), it.Flags)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed != nil {
		return 0, j.failed
	}
	body, err := j.cur.Reserve(n)
	if err != nil {
		if errors.Is(err, disk.ErrLogFull) {
			// Compaction starts a new log long before this; one that could
			// not has already failed loudly.
			err = fmt.Errorf("%s has reached its largest size: %w", j.cur.Path(), err)
		}
		j.fail("cannot write to the log", err)
		return 0, j.failed
	}
	body[0] = kind
	writeRecord(body[1:], key, value, it, state)
	j.cur.Commit(body)
	if !j.growing && j.cur.Room() < j.lopts.Chunk/2 {
		j.growing = true
		select {
		case j.grow <- j.cur:
		default:
			j.growing = false
		}
	}
	j.sinceSn += int64(disk.FrameHeader + n)
	j.changes++
	pos := j.base + uint64(j.cur.End())
	j.written.Store(pos)
	if j.compactDue() {
		select {
		case j.compact <- struct{}{}:
		default:
		}
	}
	return pos, nil
}

// fail refuses changes from now on, logging the cause once. Called with mu
// held.
func (j *journal) fail(what string, err error) {
	if j.failed == nil {
		j.log.Error("sessiond: "+what+"; refusing writes until it works again", "dir", j.dir.Path(), "err", err)
		j.stats.writeOK.Store(false)
	}
	j.failed = fmt.Errorf("%w: %s: %w", ErrNotPersisted, what, err)
	j.broken.Store(true)
}

// recover takes changes again after a failure, once the disk takes writes.
// Called with mu held.
func (j *journal) recover() {
	if j.failed == nil {
		return
	}
	j.failed = nil
	j.broken.Store(false)
	j.stats.writeOK.Store(true)
	j.log.Warn("sessiond: the data directory takes writes again; writes resume", "dir", j.dir.Path())
}

// refuse returns why changes are refused, or nil.
func (j *journal) refuse() error {
	if j == nil || !j.broken.Load() {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// wait returns once position pos is on the disk, under FsyncAlways, or
// with the flush's error.
func (j *journal) wait(pos uint64) error {
	if j.policy != FsyncAlways {
		return nil
	}
	return j.flushed(pos)
}

// flushed returns once position pos is on the disk, asking the syncer for
// a flush if it must, or with the flush's error.
func (j *journal) flushed(pos uint64) error {
	if pos == 0 || j.synced.Load() >= pos {
		return nil
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	for j.synced.Load() < pos {
		select {
		case j.kick <- struct{}{}:
		default:
		}
		if j.syncErr != nil {
			return j.syncErr
		}
		j.syncCond.Wait()
	}
	return nil
}

// syncLoop flushes the log: at once when a change waits for it
// (FsyncAlways, or Sync), once a second (FsyncEverySec), or only when a
// log is rotated out (FsyncNo). Every second it also retries a disk that failed.
func (j *journal) syncLoop() {
	defer close(j.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-j.kick:
			j.sync(true)
		case <-t.C:
			j.retry()
			j.sync(j.policy != FsyncNo)
		}
	}
}

// sync closes the logs rotated out, and flushes the current one if flush
// is set, then tells the waiters.
func (j *journal) sync(flush bool) {
	j.mu.Lock()
	cur, old := j.cur, j.old
	j.old = nil
	target := j.written.Load()
	j.mu.Unlock()
	var err error
	if len(old) > 0 {
		j.prepMu.Lock() // not while growLoop prepares one of them
		for _, l := range old {
			if cerr := l.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
		j.prepMu.Unlock()
	}
	if flush && err == nil && target > j.synced.Load() {
		start := time.Now()
		err = cur.Sync()
		j.stats.fsync.observe(time.Since(start))
	}
	j.syncMu.Lock()
	if err != nil {
		j.syncErr = fmt.Errorf("%w: flushing the log: %w", ErrNotPersisted, err)
		j.mu.Lock()
		j.fail("cannot flush the log", err)
		j.mu.Unlock()
	} else if flush || len(old) > 0 {
		j.syncErr = nil
		if target > j.synced.Load() {
			j.synced.Store(target)
		}
	}
	j.syncMu.Unlock()
	j.syncCond.Broadcast()
}

// retry checks, after a failure, whether the disk takes writes again: the
// log can grow by a chunk and be flushed.
func (j *journal) retry() {
	if !j.broken.Load() {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.cur.Reserve(int(j.lopts.Chunk)); err != nil {
		return
	}
	if err := j.cur.Sync(); err != nil {
		return
	}
	j.recover()
}

// growLoop grows the log ahead of its appends, a chunk at a time, while
// the half of the last chunk is still free: the allocation and the page
// faults of a fresh chunk then cost no append a wait.
func (j *journal) growLoop() {
	defer close(j.growDone)
	for {
		var l *disk.Log
		select {
		case <-j.stop:
			return
		case l = <-j.grow:
		}
		j.prepMu.Lock()
		j.mu.Lock()
		off, live := l.Size(), j.cur == l
		j.mu.Unlock()
		var err error
		if live { // not rotated out (and maybe closed) meanwhile
			err = l.Prepare(off, j.lopts.Chunk)
		}
		j.mu.Lock()
		if live && err == nil && j.cur == l {
			l.Extend(off + j.lopts.Chunk)
		}
		j.growing = false
		j.mu.Unlock()
		j.prepMu.Unlock()
		// An error is left to the append that needs the room: it tries
		// again, and refuses writes if the disk still says no.
	}
}

// close stops the syncer and closes every log, flushing it.
func (j *journal) close() error {
	j.saveMu.Lock() // a snapshot being written ends: the store is closed
	defer j.saveMu.Unlock()
	close(j.stop)
	if j.started {
		<-j.done
		<-j.growDone
	}
	// No flush comes any more: a Sync still waiting ends.
	j.syncMu.Lock()
	j.syncErr = ErrClosed
	j.syncMu.Unlock()
	j.syncCond.Broadcast()
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	logs := j.old
	if j.cur != nil {
		logs = append(logs, j.cur)
	}
	for _, l := range logs {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	j.old, j.cur = nil, nil
	if derr := j.dir.Close(); err == nil {
		err = derr
	}
	return err
}
