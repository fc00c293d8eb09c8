package sessiond

import (
	"sync/atomic"
	"time"
)

// Persistence describes a store's data directory, for INFO persistence and
// metrics. A store without one reports Enabled false and zeros.
type Persistence struct {
	// Enabled is true when the store has a data directory.
	Enabled bool
	// Dir is the data directory.
	Dir string
	// Fsync is the fsync policy.
	Fsync FsyncPolicy
	// DeferWrites is Options.DeferWrites: changes wait for Commit.
	DeferWrites bool
	// Loading is true while the store loads the directory.
	Loading bool
	// Loaded counts the snapshot records and log entries read at start.
	Loaded int64
	// LoadedKeys is the number of keys the store held once loaded.
	LoadedKeys int64
	// LoadTime is how long the load took (so far, while Loading).
	LoadTime time.Duration
	// WriteOK is false while changes are refused (ErrNotPersisted).
	WriteOK bool
	// ChangesSinceSave counts the changes logged since the last snapshot
	// began.
	ChangesSinceSave int64
	// LogSize is the bytes in the logs written since the last snapshot
	// began: what the next start replays.
	LogSize int64
	// SnapshotSize is the size of the last snapshot.
	SnapshotSize int64
	// Saving is true while a snapshot is written.
	Saving bool
	// LastSave is when the last snapshot was completed (or the store
	// loaded, if none was taken since); zero if never.
	LastSave time.Time
	// LastSaveOK is false if the last snapshot failed.
	LastSaveOK bool
	// LastSaveTime is how long the last snapshot took.
	LastSaveTime time.Duration
	// Saves counts the snapshots taken since the store opened.
	Saves int64
	// Fsyncs counts the log flushes, FsyncTime is their total time and
	// FsyncMax the longest; FsyncBuckets counts them by duration, under
	// each of FsyncBounds.
	Fsyncs       int64
	FsyncTime    time.Duration
	FsyncMax     time.Duration
	FsyncBuckets [len(FsyncBounds) + 1]int64
}

// FsyncBounds are the upper bounds of Persistence.FsyncBuckets; the last
// bucket counts the flushes longer than them all.
var FsyncBounds = [...]time.Duration{
	100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond, time.Second,
}

// persistStats are the journal's counters.
type persistStats struct {
	writeOK   atomic.Bool
	loaded    atomic.Int64
	keys      atomic.Int64 // keys held once loaded
	loadStart atomic.Int64 // unix ns
	loadEnd   atomic.Int64
	saving    atomic.Bool
	lastSave  atomic.Int64 // unix ns
	saveFail  atomic.Bool
	saveTime  atomic.Int64
	saves     atomic.Int64
	snapSize  atomic.Int64
	fsync     latency
}

// latency is a histogram of durations.
type latency struct {
	n, total, max atomic.Int64
	buckets       [len(FsyncBounds) + 1]atomic.Int64
}

func (l *latency) observe(d time.Duration) {
	l.n.Add(1)
	l.total.Add(int64(d))
	for {
		m := l.max.Load()
		if int64(d) <= m || l.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	i := 0
	for i < len(FsyncBounds) && d > FsyncBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
}

// Persistence returns the state of the store's data directory.
func (st *Store) Persistence() Persistence {
	j := st.journal
	if j == nil {
		return Persistence{WriteOK: true, LastSaveOK: true}
	}
	s := &j.stats
	p := Persistence{
		Enabled:      true,
		Dir:          j.dir.Path(),
		Fsync:        j.policy,
		DeferWrites:  st.opts.DeferWrites,
		Loading:      st.loading.Load(),
		Loaded:       s.loaded.Load(),
		LoadedKeys:   s.keys.Load(),
		WriteOK:      s.writeOK.Load(),
		Saving:       s.saving.Load(),
		LastSaveOK:   !s.saveFail.Load(),
		LastSaveTime: time.Duration(s.saveTime.Load()),
		Saves:        s.saves.Load(),
		SnapshotSize: s.snapSize.Load(),
		Fsyncs:       s.fsync.n.Load(),
		FsyncTime:    time.Duration(s.fsync.total.Load()),
		FsyncMax:     time.Duration(s.fsync.max.Load()),
	}
	if t := s.lastSave.Load(); t != 0 {
		p.LastSave = time.Unix(0, t)
	}
	end := s.loadEnd.Load()
	if end == 0 {
		end = time.Now().UnixNano()
	}
	p.LoadTime = time.Duration(end - s.loadStart.Load())
	for i := range p.FsyncBuckets {
		p.FsyncBuckets[i] = s.fsync.buckets[i].Load()
	}
	j.mu.Lock()
	p.ChangesSinceSave, p.LogSize = j.changes, j.sinceSn
	j.mu.Unlock()
	return p
}
