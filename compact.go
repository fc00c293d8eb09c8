package sessiond

import (
	"fmt"
	"time"

	"github.com/sessiond/sessiond/internal/disk"
)

// Compaction turns the logs into a snapshot without stopping writes and
// without a frozen copy of the store. It starts a new log, then writes
// every record the store holds, a partition at a time, into a snapshot of
// the new log's generation, and removes what came before. Changes made
// while it runs go to the new log, and loading replays that log over the
// snapshot by version: a record the snapshot caught before or after a
// change comes out the same. Its memory is one block of records.

// compactMin is the least log size that starts a compaction by itself, as
// Redis's auto-aof-rewrite-min-size.
const compactMin = 64 << 20

// Save writes a snapshot of the store into its data directory and removes
// the logs it replaces (Redis's SAVE and BGREWRITEAOF alike). Writes go on
// meanwhile. It returns ErrSaveInProgress if a snapshot is being written
// already, and ErrNoDir for a store without a data directory.
func (st *Store) Save() error {
	j := st.journal
	switch {
	case j == nil:
		return ErrNoDir
	case st.closed.Load():
		return ErrClosed
	case st.loading.Load():
		return ErrLoading
	}
	if !j.saveMu.TryLock() {
		return ErrSaveInProgress
	}
	defer j.saveMu.Unlock()
	if st.closed.Load() {
		return ErrClosed
	}
	j.stats.saving.Store(true)
	defer j.stats.saving.Store(false)
	start := time.Now()
	size, err := j.snapshot()
	j.stats.saveTime.Store(int64(time.Since(start)))
	j.stats.saveFail.Store(err != nil)
	if err != nil {
		j.log.Error("sessiond: snapshot failed", "dir", j.dir.Path(), "err", err)
		return err
	}
	j.stats.saves.Add(1)
	j.stats.lastSave.Store(time.Now().UnixNano())
	j.stats.snapSize.Store(size)
	j.log.Info("sessiond: snapshot written", "dir", j.dir.Path(), "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// snapshot rotates the log and writes the snapshot of the new generation.
func (j *journal) snapshot() (size int64, err error) {
	st := j.st
	j.mu.Lock()
	gen := j.cur.Gen() + 1
	j.mu.Unlock()
	if err := j.startLog(gen); err != nil {
		return 0, err
	}
	j.mu.Lock()
	j.sinceSn, j.changes = 0, 0
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}: // close the old log
	default:
	}
	path := j.dir.SnapshotPath(gen)
	w, err := disk.CreateSnapshot(path, gen, encodeMeta(st.floor.load(), st.clock.Now()), j.lopts.Sync)
	if err != nil {
		return 0, err
	}
	// Each step's records are copied out under their partition's lock,
	// then handed to the writer, whose block writes must not hold up the
	// partition's writes.
	var step []byte // bodies, back to back
	var ends []int  // where each body ends in step
	var pace pacer
	for cursor := uint64(0); ; {
		pace.start(j)
		step, ends = step[:0], ends[:0]
		cursor, err = st.records(cursor, snapshotStep, func(rec *Record) {
			kind, state := byte(entryPut), byte(0)
			if rec.Deleted {
				kind, state = entryTomb, recTomb
			}
			it := item{Expires: rec.Expires, Flags: rec.Flags, Version: rec.Version}
			n := 1 + recordSize(len(rec.Key), len(rec.Value), rec.Flags)
			start := len(step)
			step = append(step, make([]byte, n)...)
			step[start] = kind
			writeRecord(step[start+1:], rec.Key, rec.Value, it, state)
			ends = append(ends, len(step))
		})
		from := 0
		for _, end := range ends {
			if err != nil {
				break
			}
			var body []byte
			if body, err = w.Add(end - from); err == nil {
				copy(body, step[from:end])
			}
			from = end
		}
		if err != nil {
			w.Abort()
			return 0, err
		}
		if cursor == 0 {
			break
		}
		if cap(step) > 4<<20 {
			step = nil // a step of huge sessions: let it go
		}
		pace.wait(j)
	}
	if err := w.Commit(); err != nil {
		return 0, err
	}
	if err := j.dir.Sync(); err != nil {
		return 0, fmt.Errorf("sessiond: syncing %s: %w", j.dir.Path(), err)
	}
	size = w.Size()
	if fs, err := j.dir.List(); err == nil {
		j.removeBefore(fs, gen)
	}
	return size, nil
}

// snapshotShare is how many cores' worth of time a snapshot's work is
// spread over while the store serves writes: it takes an eighth of one
// core, so that on a small machine the writes keep the rest (bench/persist:
// with a quarter, writes/s during a snapshot fell to 0.81× and their p99
// rose 1.76×). With no writes coming it runs flat out.
const snapshotShare = 8

// snapshotStep is how many records a snapshot copies under one lock of a
// partition: about 35 KiB of sessions, a tenth of a millisecond's work, so
// that the writes waiting for the lock or for a core wait no longer.
const snapshotStep = 64

// pacer spreads a snapshot's work over time while writes go on: after each
// step it sleeps (snapshotShare-1) times as long as the step took, but only
// if the store took changes since the last step ended (during the step or
// the sleep before it). The log keeps those changes, so a slower snapshot
// loses nothing; it only waits longer to remove old logs.
type pacer struct {
	began   time.Time
	changes int64 // the journal's count of changes when the last step ended
}

func (p *pacer) start(j *journal) { p.began = time.Now() }

func (p *pacer) wait(j *journal) {
	d := p.delay(j, time.Since(p.began))
	if d == 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-j.st.stop: // Close: the snapshot ends at its next step
	}
}

// delay is how long to wait after a step that took took.
func (p *pacer) delay(j *journal, took time.Duration) time.Duration {
	j.mu.Lock()
	busy := j.changes != p.changes
	p.changes = j.changes
	j.mu.Unlock()
	if !busy {
		return 0
	}
	return took * (snapshotShare - 1)
}

// Commit makes every change made so far as safe as the FsyncPolicy says:
// written to the data directory's log, where a crash of the process cannot
// lose it, and under FsyncAlways flushed to the disk. Only a store with
// Options.DeferWrites needs it; it returns ErrNotPersisted if the disk
// would not take the changes. A store without a data directory returns nil
// at once.
func (st *Store) Commit() error {
	j, end, err := st.queuedEnd()
	if j == nil || err != nil {
		return err
	}
	return j.commit(end)
}

// queuedEnd returns the journal and the position after the last change
// queued; a nil journal when there is nothing to commit.
func (st *Store) queuedEnd() (*journal, uint64, error) {
	j := st.journal
	if j == nil || st.loading.Load() {
		return nil, 0, nil
	}
	if st.closed.Load() {
		return nil, 0, ErrClosed
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j, j.end, nil
}

// Sync returns once every change made so far is on the disk, writing and
// flushing the log if it must, whatever the FsyncPolicy; with the error if
// the disk would not take them (ErrNotPersisted). A store without a data
// directory returns nil at once.
func (st *Store) Sync() error {
	j, end, err := st.queuedEnd()
	if j == nil || err != nil {
		return err
	}
	if err := j.writeTo(end); err != nil {
		return err
	}
	return j.flushed(end)
}

// compactLoop runs a compaction whenever the log written since the last
// snapshot has grown past the snapshot's size, and past compactMin.
func (j *journal) compactLoop() {
	for {
		select {
		case <-j.stop:
			return
		case <-j.compact:
		}
		if err := j.st.Save(); err != nil && err != ErrSaveInProgress {
			// Logged by Save; wait before trying again, so that a full
			// disk is not hammered.
			select {
			case <-j.stop:
				return
			case <-time.After(10 * time.Second):
			}
		}
	}
}

// compactDue reports whether the log has grown enough for a compaction.
// Called with mu held.
func (j *journal) compactDue() bool {
	return j.sinceSn >= j.st.opts.CompactMinSize && j.sinceSn >= j.stats.snapSize.Load()
}
