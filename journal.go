package sessiond

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/disk"
)

// The journal writes every change the store makes to the log of its data
// directory. A change is framed into a buffer under the lock of its
// partition, so that the changes of a key are in the log in the order they
// were made; the buffer is then written to the log file with one system
// call for every change queued meanwhile, before the change's operation
// returns (a group commit: the goroutines that wait for the write while
// one runs share the next). Once written, a change is in the kernel's page
// cache, where a crash of the process cannot lose it. A syncer goroutine
// flushes the log to the disk as the FsyncPolicy says; under FsyncAlways a
// change also waits for the flush that covers it, and the changes made
// meanwhile share it.
//
// With Options.DeferWrites, a change returns once queued, and the caller
// (the server, for a batch of pipelined commands) calls Commit before it
// acknowledges the batch: one write, and one flush, for the batch.

// Kinds of log entry: the first byte of a frame's body. The rest is the
// record in the store's own layout (layout.go).
const (
	entryPut   = 'P' // a write: the record replaces any of a lower version
	entryTomb  = 'T' // a delete at the record's version
	entryDrop  = 'D' // an eviction: the record of this version or lower goes, leaving nothing
	entryClear = 'C' // a clear: every record under this version goes
	entryNop   = 'N' // nothing: what a retry writes to see whether the disk takes writes again
)

// journal is the store's side of the data directory.
type journal struct {
	st     *Store
	dir    *disk.Dir
	policy FsyncPolicy
	log    *slog.Logger
	lopts  disk.LogOptions

	mu      sync.Mutex
	buf     []byte      // frames queued, not written yet
	end     uint64      // the position after the last frame queued
	cur     *disk.Log   // the log written to
	base    uint64      // position of cur's offset 0: positions run on across logs
	old     []*disk.Log // logs rotated out, to close
	failed  error       // why changes are refused; under mu
	sinceSn int64       // log bytes queued since the last snapshot began
	changes int64       // changes since the last snapshot began
	newest  uint64      // the newest version time loaded at start

	broken  atomic.Bool   // failed != nil, for the lock-free check
	written atomic.Uint64 // every position below is in the kernel
	synced  atomic.Uint64 // every position below is on the disk

	wmu   sync.Mutex // held by the write of the queued frames; spare too
	spare []byte     // the buffer the next write swaps in

	flushMu   sync.Mutex // held through a sync: one at a time, the syncer's or a change's
	syncMu    sync.Mutex
	syncCond  *sync.Cond
	syncErr   error     // the last flush's failure, for waiters; under syncMu
	rounds    uint64    // flushes tried; under syncMu
	flushing  bool      // a change's flush runs (flushed); under syncMu
	lostFlush [2]uint64 // positions (lo, hi] whose flush failed: maybe lost; under syncMu
	kick      chan struct{}
	zero      chan struct{} // the log wants zeros ahead (disk.LogOptions.Zero)
	compact   chan struct{} // a compaction is due
	saveMu    sync.Mutex    // held by the snapshot being written
	started   bool          // the syncer runs

	stats persistStats

	stop chan struct{}
	done chan struct{}
}

// pending is what a change leaves its operation to wait for once it has
// unlocked: the log's write (and flush), and the replicator.
type pending struct {
	repl uint64 // the replicator's ticket; 0 for none
	pos  uint64 // the log position to commit; 0 for none
	err  error  // the log could not take the change
}

// persist queues a change of key for the log. It is called with the key's
// partition locked; it returns the position to commit. A store without a
// data directory, or one loading it, does nothing.
func (sh *shard) persist(kind byte, key string, value []byte, it item) (pos uint64, err error) {
	j := sh.st.journal
	if j == nil || sh.st.loading.Load() {
		return 0, nil
	}
	return j.append(kind, key, value, it)
}

// append queues a change and returns its position.
func (j *journal) append(kind byte, key string, value []byte, it item) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed != nil {
		return 0, j.failed
	}
	if j.cur == nil {
		return 0, ErrClosed
	}
	return j.queue(kind, key, value, it), nil
}

// queue frames a change into the buffer and returns its position. Called
// with mu held.
func (j *journal) queue(kind byte, key string, value []byte, it item) uint64 {
	var state byte
	if kind == entryTomb {
		state = recTomb
	}
	n := 1 + recordSize(len(key), len(value), it.Flags)
	var body []byte
	j.buf, body = disk.AppendFrame(j.buf, n)
	body[0] = kind
	writeRecord(body[1:], key, value, it, state)
	disk.SealFrame(j.buf, body)
	j.end += uint64(disk.FrameHeader + n)
	j.sinceSn += int64(disk.FrameHeader + n)
	j.changes++
	if j.compactDue() {
		select {
		case j.compact <- struct{}{}:
		default:
		}
	}
	return j.end
}

// commit makes the change at position pos safe as the policy says: written
// to the log (in the kernel) and, under FsyncAlways, flushed.
func (j *journal) commit(pos uint64) error {
	if err := j.writeTo(pos); err != nil {
		return err
	}
	if j.policy == FsyncAlways {
		return j.flushed(pos)
	}
	return nil
}

// writeTo returns once every frame up to position pos is written to the
// log, writing the queued frames itself unless another goroutine's write
// covers them. Frames are written in order and never dropped, so a
// position at or below written is in the log. While the disk refuses
// writes it fails at once; the syncer tries again.
func (j *journal) writeTo(pos uint64) error {
	if pos == 0 || j.written.Load() >= pos {
		return nil
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.written.Load() >= pos {
		return nil
	}
	if err := j.refuse(); err != nil {
		return err
	}
	if err := j.writeQueued(); err != nil {
		return err
	}
	if j.written.Load() < pos {
		return fmt.Errorf("%w: position %d is not in the log", ErrNotPersisted, pos) // a bug
	}
	return nil
}

// writeQueued writes every queued frame to the current log in one system
// call. On a failure the frames go back to the head of the queue, the log
// is cut back to its last whole frame, and changes are refused until the
// disk takes writes again (retry). Called with wmu held.
func (j *journal) writeQueued() error {
	j.mu.Lock()
	buf, end, cur := j.buf, j.end, j.cur
	if cur == nil {
		j.mu.Unlock()
		return ErrClosed
	}
	j.buf = j.spare[:0]
	j.mu.Unlock()
	if len(buf) == 0 {
		j.spare = buf
		return nil
	}
	if err := cur.Append(buf); err != nil {
		j.mu.Lock()
		j.buf = append(buf, j.buf...) // in order, before what came meanwhile
		j.fail("cannot write to the log", err)
		j.mu.Unlock()
		return fmt.Errorf("%w: writing the log: %w", ErrNotPersisted, err)
	}
	if cur.NeedsZero() {
		select {
		case j.zero <- struct{}{}:
		default:
		}
	}
	j.spare = buf[:0]
	if cap(j.spare) > 4<<20 {
		j.spare = nil // one huge batch passed: let it go
	}
	j.written.Store(end)
	return nil
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

// refuse returns why changes are refused, or nil.
func (j *journal) refuse() error {
	if j == nil || !j.broken.Load() {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// flushed returns once position pos, written, is on the disk, or with the
// flush's error. The first waiter flushes, on its own goroutine (the event
// loop's thread, as Redis's main thread does), and the waiters that come
// meanwhile share the next flush, which the first of them runs: no
// hand-over to the syncer and back on the way of a change.
func (j *journal) flushed(pos uint64) error {
	if pos == 0 {
		return nil
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	start := j.rounds
	for j.synced.Load() < pos {
		// An error counts only from a flush tried since we asked.
		if j.syncErr != nil && (j.rounds != start || j.syncErr == ErrClosed) {
			return j.syncErr
		}
		if j.flushing {
			j.syncCond.Wait()
			continue
		}
		j.flushing = true
		j.syncMu.Unlock()
		j.sync(true)
		j.syncMu.Lock()
		j.flushing = false
		j.syncCond.Broadcast() // a waiter that needs more leads the next
	}
	if pos > j.lostFlush[0] && pos <= j.lostFlush[1] {
		// Its flush failed: the kernel may have dropped the data since,
		// whatever later flushes say.
		return fmt.Errorf("%w: flushing the log failed", ErrNotPersisted)
	}
	return nil
}

// syncLoop writes what is queued and flushes the log: at once when a
// change waits for it (FsyncAlways, or Sync), once a second (FsyncEverySec;
// under FsyncNo the second's queue is written but not flushed). Every
// second it also retries a disk that failed.
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

// zeroLoop writes zeros ahead of the current log's frames when it asks
// (FsyncAlways: see disk.LogOptions.Zero). A failure is not the journal's:
// appends then allocate as they go.
func (j *journal) zeroLoop() {
	for {
		select {
		case <-j.stop:
			return
		case <-j.zero:
			j.mu.Lock()
			cur := j.cur
			j.mu.Unlock()
			if cur == nil || cur.ZeroAhead() == nil {
				continue
			}
			// A full disk: not again at every write.
			select {
			case <-j.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// sync writes the queued frames (a deferred change nobody committed, an
// eviction), closes the logs rotated out, and flushes the current one if
// flush is set, then tells the waiters.
func (j *journal) sync(flush bool) {
	// One at a time: a sync that took the logs rotated out must have
	// flushed them before another publishes a synced position past
	// their frames.
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	j.mu.Lock()
	end := j.end
	j.mu.Unlock()
	_ = j.writeTo(end) // a failure is logged, and refuses changes
	j.mu.Lock()
	cur, old := j.cur, j.old
	j.old = nil
	target := j.written.Load()
	j.mu.Unlock()
	var err error
	for _, l := range old {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if flush && err == nil && target > j.synced.Load() {
		start := time.Now()
		err = cur.Sync()
		j.stats.fsync.observe(time.Since(start))
	}
	j.syncMu.Lock()
	j.rounds++
	if err != nil {
		j.syncErr = fmt.Errorf("%w: flushing the log: %w", ErrNotPersisted, err)
		if lo := j.synced.Load(); j.lostFlush[1] == 0 || lo < j.lostFlush[0] {
			j.lostFlush[0] = lo
		}
		j.lostFlush[1] = max(j.lostFlush[1], target)
		j.mu.Lock()
		j.fail("cannot flush the log", err)
		j.mu.Unlock()
	} else if flush {
		j.syncErr = nil
		if target > j.synced.Load() {
			j.synced.Store(target)
		}
	}
	j.syncMu.Unlock()
	j.syncCond.Broadcast()
}

// retry checks, after a failure, whether the disk takes writes again: a
// frame that means nothing can be written and flushed. Then changes are
// taken again.
func (j *journal) retry() {
	if !j.broken.Load() {
		return
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	j.mu.Lock()
	if len(j.buf) == 0 {
		// Nothing waits to be written: a frame that means nothing
		// shows whether the disk takes writes.
		j.queue(entryNop, "", nil, item{})
	}
	j.mu.Unlock()
	if err := j.writeQueued(); err != nil {
		return
	}
	if err := j.cur.Sync(); err != nil {
		return
	}
	j.syncMu.Lock()
	j.syncErr = nil
	j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed != nil {
		j.failed = nil
		j.broken.Store(false)
		j.stats.writeOK.Store(true)
		j.log.Warn("sessiond: the data directory takes writes again; writes resume", "dir", j.dir.Path())
	}
}

// close writes what is queued, stops the syncer and closes every log,
// flushing it.
func (j *journal) close() error {
	j.saveMu.Lock() // a snapshot being written ends: the store is closed
	defer j.saveMu.Unlock()
	close(j.stop)
	if j.started {
		<-j.done
	}
	// No flush comes any more: the one a change runs ends, and a Sync
	// still waiting ends with ErrClosed.
	j.syncMu.Lock()
	for j.flushing {
		j.syncCond.Wait()
	}
	j.flushing = true
	j.syncErr = ErrClosed
	j.syncMu.Unlock()
	j.syncCond.Broadcast()
	j.mu.Lock()
	end := j.end
	j.mu.Unlock()
	err := j.writeTo(end)
	j.wmu.Lock() // no write is under way on the logs it closes
	defer j.wmu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
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
