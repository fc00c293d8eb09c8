package sessiond

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"github.com/sessiond/sessiond/internal/disk"
)

// A store with Options.Dir loads the directory when it opens: the newest
// snapshot, then every log since, each entry applied by version as a
// replicated record is, so that the order of a fuzzy snapshot and the log
// written meanwhile does not matter. Records that expired while the store
// was down are dropped. The clock moves past every version loaded, so a
// wall clock that went back across the restart cannot make new writes
// lose to old ones.

// openJournal locks the data directory and prepares the journal; load
// fills the store from it.
func (st *Store) openJournal() error {
	d, err := disk.OpenDir(st.opts.Dir)
	if err != nil {
		return err
	}
	lg := st.opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	lo := st.opts.logOptions
	lo.Zero = st.opts.Fsync == FsyncAlways
	j := &journal{
		st:      st,
		dir:     d,
		policy:  st.opts.Fsync,
		log:     lg,
		lopts:   lo,
		kick:    make(chan struct{}, 1),
		zero:    make(chan struct{}, 1),
		compact: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	j.syncCond = sync.NewCond(&j.syncMu)
	j.stats.writeOK.Store(true)
	st.journal = j
	return nil
}

// loadDir loads the data directory and starts the journal, then marks the
// store loaded.
func (st *Store) loadDir() {
	defer close(st.loaded)
	j := st.journal
	j.stats.loadStart.Store(time.Now().UnixNano())
	st.mem.hugePages(true)
	err := j.load()
	st.mem.hugePages(false)
	j.stats.loadEnd.Store(time.Now().UnixNano())
	if err != nil {
		st.loadErr = err
		return
	}
	st.loading.Store(false)
	j.started = true
	go j.syncLoop()
	go j.compactLoop()
	if j.lopts.Zero {
		go j.zeroLoop()
	}
}

// Loaded returns a channel closed once the store has loaded its data
// directory (at once without one); LoadError then says whether it failed.
func (st *Store) Loaded() <-chan struct{} { return st.loaded }

// LoadError returns why loading the data directory failed, once Loaded is
// closed: the store then refuses every operation with ErrLoading, and
// should be closed.
func (st *Store) LoadError() error {
	select {
	case <-st.loaded:
		return st.loadErr
	default:
		return nil
	}
}

func (j *journal) load() error {
	st := j.st
	fs, err := j.dir.List()
	if err != nil {
		return err
	}
	for _, t := range fs.Temp {
		if err := os.Remove(t); err != nil {
			return err
		}
	}
	var snap uint64
	if n := len(fs.Snapshots); n > 0 {
		snap = fs.Snapshots[n-1]
	}
	var logs []uint64
	for _, g := range fs.Logs {
		if g >= snap {
			logs = append(logs, g)
		}
	}
	if err := j.checkGens(snap, logs); err != nil {
		return err
	}
	now := st.nowMS()
	lastLog := time.Now()
	progress := func() {
		if n := j.stats.loaded.Add(1); n%65536 == 0 && time.Since(lastLog) >= 2*time.Second {
			lastLog = time.Now()
			j.log.Info("sessiond: loading the data directory", "dir", j.dir.Path(), "entries", n)
		}
	}
	if snap != 0 {
		if err := j.loadSnapshot(snap, now, progress); err != nil {
			return err
		}
	}
	for _, g := range logs {
		if err := j.loadLog(g, now, progress); err != nil {
			return err
		}
	}
	// Files older than the snapshot are left from a compaction that
	// stopped before removing them.
	j.removeBefore(fs, snap)
	gen := snap + 1
	if n := len(logs); n > 0 {
		gen = max(gen, logs[n-1]+1)
	}
	if j.stale(now) {
		if err := j.discard(); err != nil {
			return err
		}
		snap, logs, gen = 0, nil, 1
	}
	if err := j.startLog(gen); err != nil {
		return err
	}
	sz := int64(0)
	if snap != 0 {
		if fi, err := os.Stat(j.dir.SnapshotPath(snap)); err == nil {
			sz = fi.Size()
		}
		j.stats.lastSave.Store(time.Now().UnixNano())
	}
	j.stats.snapSize.Store(sz)
	keys, _ := st.Len()
	j.stats.keys.Store(int64(keys))
	j.log.Info("sessiond: loaded the data directory", "dir", j.dir.Path(), "keys", keys,
		"entries", j.stats.loaded.Load(), "snapshot", snap, "logs", len(logs),
		"took", time.Since(time.Unix(0, j.stats.loadStart.Load())).Round(time.Millisecond))
	return nil
}

// stale reports whether what was loaded is older than the tombstone
// lifetime, in a store that keeps tombstones (a cluster node). Its peers
// may have dropped the tombstones of sessions deleted since: repair would
// then take this node's copies for sessions the peers lack, and bring
// them back. The newest version loaded bounds when the node was last up:
// every change it saw, its own or a peer's, is in the directory.
func (j *journal) stale(now int64) bool {
	st := j.st
	if !st.opts.Tombstones || j.newest == 0 {
		return false
	}
	newest := Version{Time: j.newest}.wallMS()
	return now-newest > st.opts.TombstoneTTL.Milliseconds()
}

// discard empties the store of what it loaded and moves the directory's
// files into a subdirectory, stale.<unix seconds>, so that they are neither
// loaded again nor lost.
func (j *journal) discard() error {
	st := j.st
	newest := time.UnixMilli(Version{Time: j.newest}.wallMS())
	aside := filepath.Join(j.dir.Path(), fmt.Sprintf("stale.%d", time.Now().Unix()))
	j.log.Warn("sessiond: the data directory is older than the tombstone lifetime: sessions deleted since could come back from it, so it is set aside and the node joins afresh",
		"dir", j.dir.Path(), "newest_change", newest.UTC().Format(time.RFC3339), "tombstone_ttl", st.opts.TombstoneTTL, "moved_to", aside)
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		sh.reset()
		sh.mu.Unlock()
	}
	fs, err := j.dir.List()
	if err != nil {
		return err
	}
	if err := os.Mkdir(aside, 0o700); err != nil {
		return err
	}
	move := func(path string) error { return os.Rename(path, filepath.Join(aside, filepath.Base(path))) }
	for _, g := range fs.Snapshots {
		if err := move(j.dir.SnapshotPath(g)); err != nil {
			return err
		}
	}
	for _, g := range fs.Logs {
		if err := move(j.dir.LogPath(g)); err != nil {
			return err
		}
	}
	j.stats.loaded.Store(0)
	return j.dir.Sync()
}

// checkGens checks that the logs from the snapshot on are all there.
func (j *journal) checkGens(snap uint64, logs []uint64) error {
	want := snap
	if want == 0 {
		want = 1
	}
	for _, g := range logs {
		if g != want {
			missing := j.dir.LogPath(want)
			if snap == 0 && want == 1 {
				missing = j.dir.SnapshotPath(g)
			}
			err := fmt.Errorf("sessiond: %s is missing: the changes it held cannot be loaded", missing)
			if !j.st.opts.Repair {
				return fmt.Errorf("%w (start with the repair option to load what is there)", err)
			}
			j.log.Warn("sessiond: repair: loading without a missing file", "err", err)
			return nil
		}
		want++
	}
	return nil
}

// startLog creates log generation gen and makes it the one appended to.
func (j *journal) startLog(gen uint64) error {
	l, err := disk.CreateLog(j.dir.LogPath(gen), gen, j.lopts)
	if err != nil {
		return err
	}
	// Its first zeros (FsyncAlways) are written before the swap, while
	// changes still go to the old log, so that none waits for them. A
	// failure leaves the log allocating as it goes.
	_ = l.ZeroAhead()
	if err := j.dir.Sync(); err != nil {
		l.Close()
		return err
	}
	// The frames queued for the old log go to it first, every one: the
	// swap happens under mu once the queue is empty, so a frame queued
	// during the last write is not left behind.
	j.wmu.Lock()
	defer j.wmu.Unlock()
	for {
		j.mu.Lock()
		if len(j.buf) == 0 {
			break // mu held
		}
		j.mu.Unlock()
		if err := j.writeQueued(); err != nil {
			l.Close()
			os.Remove(l.Path())
			return err
		}
	}
	defer j.mu.Unlock()
	if j.cur != nil {
		j.base += uint64(j.cur.End())
		j.old = append(j.old, j.cur)
	}
	j.cur = l
	j.end = j.base + uint64(l.End())
	j.written.Store(j.end)
	if j.synced.Load() == 0 {
		j.synced.Store(j.end) // the first log: nothing before it to flush
	}
	return nil
}

// removeBefore removes the snapshots and logs older than generation gen.
func (j *journal) removeBefore(fs disk.Files, gen uint64) {
	removed := false
	for _, g := range fs.Snapshots {
		if g < gen {
			removed = os.Remove(j.dir.SnapshotPath(g)) == nil || removed
		}
	}
	for _, g := range fs.Logs {
		if g < gen {
			removed = os.Remove(j.dir.LogPath(g)) == nil || removed
		}
	}
	if removed {
		_ = j.dir.Sync()
	}
}

// maxBody is the longest log entry or snapshot record a store reads: a
// longer one is damage (or was written with a larger MaxValueSize).
func (j *journal) maxBody() int {
	return 1 + recordSize(MaxKeySize, j.st.opts.MaxValueSize, 1)
}

func (j *journal) loadSnapshot(gen uint64, now int64, progress func()) error {
	path := j.dir.SnapshotPath(gen)
	_, err := disk.ReadSnapshot(path, j.maxBody(), func(meta []byte) error {
		floor, clock, ok := decodeMeta(meta)
		if !ok {
			return &disk.DamageError{File: path, Offset: disk.HeaderSize, Reason: "bad metadata block"}
		}
		j.st.clock.Update(clock)
		j.newest = max(j.newest, clock)
		if !floor.IsZero() {
			return j.st.applyClear(floor)
		}
		return nil
	}, func(body []byte) error {
		progress()
		return j.restore(path, body, now)
	})
	var de *disk.DamageError
	if errors.As(err, &de) && j.st.opts.Repair {
		cp := path + ".damaged"
		if cerr := copyFile(path, cp); cerr != nil {
			return fmt.Errorf("sessiond: repair: keeping a copy of %s: %w", path, cerr)
		}
		j.log.Warn("sessiond: repair: loaded the snapshot up to its damage; the rest is lost", "err", err, "copy", cp)
		return nil
	}
	return err
}

func (j *journal) loadLog(gen uint64, now int64, progress func()) error {
	path := j.dir.LogPath(gen)
	data, err := disk.MapFile(path)
	if err != nil {
		return err
	}
	defer disk.Unmap(data)
	scan, err := disk.ScanLog(path, data, j.maxBody(), plausibleEntry, func(off int64, body []byte) error {
		progress()
		return j.restore(path, body, now)
	})
	var de *disk.DamageError
	switch {
	case errors.As(err, &de) && j.st.opts.Repair && de.Offset >= disk.HeaderSize:
		cp := fmt.Sprintf("%s.cut-%d", path, de.Offset)
		if werr := os.WriteFile(cp, data[de.Offset:], 0o600); werr != nil {
			return fmt.Errorf("sessiond: repair: keeping what is cut from %s: %w", path, werr)
		}
		j.log.Warn("sessiond: repair: cut the log at its damage", "file", path, "offset", de.Offset,
			"bytes", int64(len(data))-de.Offset, "copy", cp)
		return os.Truncate(path, de.Offset)
	case err != nil:
		return err
	case scan.TornBytes > 0:
		j.log.Warn("sessiond: cut a torn tail off the log (a crash during an append that was never acknowledged)",
			"file", path, "offset", scan.End, "bytes", scan.TornBytes, "entries", 1)
		return os.Truncate(path, scan.End)
	case scan.End < int64(len(data)):
		return os.Truncate(path, scan.End) // preallocated zeros
	}
	return nil
}

// restore applies one log entry or snapshot record, as loading does.
func (j *journal) restore(file string, body []byte, now int64) error {
	kind, v, ok := decodeEntry(body)
	if !ok {
		// The checksum held: only a bug or another release writes this.
		return fmt.Errorf("sessiond: %s: an entry of an unknown kind or layout (%d bytes)", file, len(body))
	}
	st := j.st
	it := v.item()
	j.newest = max(j.newest, it.Version.Time)
	switch kind {
	case entryNop:
		return nil
	case entryClear:
		return st.applyClear(it.Version)
	}
	// The key is copied by the write that keeps it, if any.
	k := v.key()
	return st.restore(kind, unsafe.String(unsafe.SliceData(k), len(k)), v.value(), it, now)
}

// restore puts a loaded record into the store by the apply rule: it
// replaces only a lower version. It is never refused for want of memory:
// nothing on disk is dropped at start (the cap then holds for new writes).
func (st *Store) restore(kind byte, key string, value []byte, it item, now int64) error {
	st.clock.Update(it.Version.Time)
	h := st.hash(key)
	sh, tag := &st.shards[h&st.mask], uint32(h>>32)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if st.closed.Load() {
		return ErrClosed
	}
	if it.Version.Compare(st.floor.load()) < 0 {
		return nil
	}
	i := sh.find(tag, key)
	var cur Version
	if i >= 0 {
		cur = sh.at(entryLoc(sh.idx.slots[i])).version()
	}
	if kind == entryDrop {
		if i >= 0 && cur.Compare(it.Version) <= 0 {
			sh.remove(i)
			sh.settle(now)
		}
		return nil
	}
	if i >= 0 && it.Version.Compare(cur) <= 0 {
		return nil
	}
	gone := kind == entryTomb || expired(it.Expires, now)
	if gone && kind == entryTomb && st.opts.Tombstones {
		exp := it.Expires
		if exp == 0 {
			exp = min(it.Version.wallMS()+st.opts.TombstoneTTL.Milliseconds(), maxExpires)
		}
		if exp > now {
			err := sh.write(tag, key, i, nil, item{Expires: exp, Version: it.Version}, recTomb, true)
			sh.settle(now)
			return err
		}
	}
	if gone {
		if i >= 0 {
			sh.remove(i)
			sh.settle(now)
		}
		return nil
	}
	err := sh.write(tag, key, i, value, it, 0, true)
	sh.settle(now)
	return err
}

// decodeEntry takes a log entry or snapshot record apart, checking that
// its layout is whole.
func decodeEntry(body []byte) (kind byte, v view, ok bool) {
	if len(body) < 1+headerSize {
		return 0, nil, false
	}
	kind, v = body[0], view(body[1:])
	switch kind {
	case entryPut, entryTomb, entryDrop, entryClear, entryNop:
	default:
		return 0, nil, false
	}
	if v.state()&^(recTomb|recFlags) != 0 || (v.state()&recTomb != 0) != (kind == entryTomb) {
		return 0, nil, false
	}
	off := headerSize
	if v.state()&recFlags != 0 {
		off += 4
	}
	if off+v.keyLen()+v.valLen() != len(v) || v.expires() < 0 {
		return 0, nil, false
	}
	return kind, v, true
}

func plausibleEntry(body []byte) bool {
	_, _, ok := decodeEntry(body)
	return ok
}

// The snapshot's metadata: the floor (the version of the last clear) and
// the clock when the snapshot began.
func encodeMeta(floor Version, clock uint64) []byte {
	b := make([]byte, 0, 21)
	b = append(b, 1) // the metadata's own version
	b = binary.LittleEndian.AppendUint64(b, floor.Time)
	b = binary.LittleEndian.AppendUint32(b, floor.Node)
	return binary.LittleEndian.AppendUint64(b, clock)
}

func decodeMeta(b []byte) (floor Version, clock uint64, ok bool) {
	if len(b) < 21 || b[0] != 1 {
		return Version{}, 0, false
	}
	floor = Version{Time: binary.LittleEndian.Uint64(b[1:]), Node: binary.LittleEndian.Uint32(b[9:])}
	return floor, binary.LittleEndian.Uint64(b[13:]), true
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
