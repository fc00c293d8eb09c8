package sessiond

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/hlc"
)

// Store holds sessions in memory. It is safe for concurrent use; its
// partitions are locked independently, so operations on different keys
// scale across cores.
type Store struct {
	opts   Options
	seed   maphash.Seed
	shards []shard
	mask   uint64
	mem    memory
	clock  *hlc.Clock
	closed atomic.Bool

	evictions   atomic.Int64
	expirations atomic.Int64

	floor floor // nothing under this version is kept (see ClearBefore)

	prefetchMin int64 // prefetchMinUsed; tests lower it

	journal *journal      // the data directory's log; nil without one
	loading atomic.Bool   // the data directory is being loaded
	loaded  chan struct{} // closed once it is
	loadErr error         // why loading failed; set before loaded closes

	stop chan struct{}
	done chan struct{}
}

// Open returns a new, empty store. A nil o means the defaults.
func Open(o *Options) (*Store, error) {
	opts := o.withDefaults()
	if opts.Shards > maxShards {
		return nil, fmt.Errorf("sessiond: %d shards: at most %d", opts.Shards, maxShards)
	}
	if opts.MaxMemory < 0 {
		return nil, fmt.Errorf("sessiond: maxmemory %d: must not be negative", opts.MaxMemory)
	}
	if opts.Policy > AllKeysLRU {
		return nil, fmt.Errorf("sessiond: unknown maxmemory policy %d", opts.Policy)
	}
	if opts.MaxValueSize > maxValueSize {
		return nil, fmt.Errorf("sessiond: max value size %d: at most %d", opts.MaxValueSize, maxValueSize)
	}
	if opts.Fsync > FsyncNo {
		return nil, fmt.Errorf("sessiond: unknown fsync policy %d", opts.Fsync)
	}
	st := &Store{
		opts:   opts,
		seed:   maphash.MakeSeed(),
		shards: make([]shard, opts.Shards),
		mask:   uint64(opts.Shards - 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		loaded: make(chan struct{}),

		prefetchMin: prefetchMinUsed,
	}
	st.mem.limit = opts.MaxMemory
	now := opts.Now
	st.clock = hlc.New(func() int64 { return now().UnixMilli() })
	for i := range st.shards {
		st.shards[i].st = st
	}
	if opts.Dir == "" {
		close(st.loaded)
		go st.reapLoop()
		return st, nil
	}
	if err := st.openJournal(); err != nil {
		return nil, err
	}
	st.loading.Store(true)
	go st.reapLoop()
	if opts.LoadInBackground {
		go st.loadDir()
		return st, nil
	}
	st.loadDir()
	if err := st.loadErr; err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

const (
	// maxShards keeps a shard number in the upper half of a scan cursor.
	maxShards = 1 << 16
	// maxValueSize keeps a value length in the record's 32-bit field.
	maxValueSize = 1<<31 - 1
)

// Close stops the background work and frees the store's memory. Calls
// after Close return ErrClosed.
func (st *Store) Close() error {
	if st.closed.Swap(true) {
		return nil
	}
	close(st.stop)
	<-st.done
	<-st.loaded // a load in the background stops at its next record
	// Wait for operations in flight: each holds its shard's lock and
	// checks closed once it has it.
	for i := range st.shards {
		sh := &st.shards[i]
		// Not held on: a snapshot being written needs the locks to
		// see that the store closed and end, before the logs close.
		sh.mu.Lock()
		sh.mu.Unlock() //lint:ignore SA2001 waits for the operation holding the lock
	}
	// No change is made from here on: the logs can close.
	var err error
	if st.journal != nil {
		err = st.journal.close()
	}
	st.mem.startClose()
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		sh.reset()
		sh.mu.Unlock()
	}
	st.mem.close()
	return err
}

func (st *Store) hash(key string) uint64 { return maphash.String(st.seed, key) }

func (st *Store) nowMS() int64 { return st.opts.Now().UnixMilli() }

// lock finds key's shard, locks it, and returns it with the key's tag.
func (st *Store) lock(key string) (*shard, uint32, error) {
	if st.loading.Load() {
		return nil, 0, ErrLoading
	}
	h := st.hash(key)
	sh := &st.shards[h&st.mask]
	sh.mu.Lock()
	if st.closed.Load() {
		sh.mu.Unlock()
		return nil, 0, ErrClosed
	}
	return sh, uint32(h >> 32), nil
}

// lockWrite is lock for an operation that may change key: it refuses while
// the data directory cannot take changes.
func (st *Store) lockWrite(key string) (*shard, uint32, error) {
	if err := st.journal.refuse(); err != nil {
		return nil, 0, err
	}
	return st.lock(key)
}

func (st *Store) checkKey(key string) error {
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: key of %d bytes (at most %d)", ErrKeyTooLarge, len(key), MaxKeySize)
	}
	return nil
}

func (st *Store) checkValue(key string, value []byte) error {
	if err := st.checkKey(key); err != nil {
		return err
	}
	if len(value) > st.opts.MaxValueSize {
		return fmt.Errorf("%w: %q: value of %d bytes (at most %d)", ErrValueTooLarge, truncKey(key), len(value), st.opts.MaxValueSize)
	}
	return nil
}

func truncKey(key string) string {
	if len(key) > 64 {
		return key[:64] + "..."
	}
	return key
}

// expiresAt converts a time to live into an absolute expiry: 0 for no
// expiry, -1 for "already expired".
func expiresAt(now int64, ttl time.Duration) int64 {
	switch {
	case ttl == 0:
		return 0
	case ttl < 0:
		return -1
	}
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	if ms > math.MaxInt64-now {
		return math.MaxInt64 // stored as the latest expiry the header holds
	}
	return now + ms
}

// Now returns the store's current time: Options.Now, which is time.Now
// unless a test set it.
func (st *Store) Now() time.Time { return st.opts.Now() }

// version stamps a local write made at now (unix ms).
func (st *Store) version(now int64) Version {
	return Version{Time: st.clock.NowAt(now), Node: st.opts.NodeID}
}

// Get returns a copy of key's value.
func (st *Store) Get(key string) (value []byte, found bool, err error) {
	value, _, found, err = st.Lookup(nil, key)
	if found && value == nil {
		value = []byte{}
	}
	return value, found, err
}

// Lookup appends key's value to dst and describes the record. It is Get for
// callers that reuse a buffer: it allocates nothing when dst has room.
func (st *Store) Lookup(dst []byte, key string) (value []byte, it Item, found bool, err error) {
	sh, tag, err := st.lock(key)
	if err != nil {
		return dst, Item{}, false, err
	}
	defer sh.mu.Unlock()
	i := sh.find(tag, key)
	if i < 0 {
		return dst, Item{}, false, nil
	}
	v := sh.at(entryLoc(sh.idx.slots[i]))
	if v.tomb() {
		return dst, Item{}, false, nil
	}
	if now := st.nowMS(); v.expired(now) {
		sh.remove(i)
		st.expirations.Add(1)
		sh.settle(now)
		return dst, Item{}, false, nil
	}
	v[0] |= recRef
	return append(dst, v.value()...), v.item(), true, nil
}

// Cond is the condition of a conditional write.
type Cond uint8

const (
	// Always writes unconditionally.
	Always Cond = iota
	// IfAbsent writes only a key that does not exist (Redis SET NX,
	// memcached add).
	IfAbsent
	// IfPresent writes only a key that exists (Redis SET XX, memcached
	// replace).
	IfPresent
	// IfVersion writes only if the key exists with WriteOptions.Version
	// (memcached cas).
	IfVersion
)

// WriteOptions shape a Write.
type WriteOptions struct {
	// Expires is the absolute expiry in unix milliseconds; 0 means never.
	// A time already past deletes the key, as Redis does.
	Expires int64
	// TTL, if positive, sets the expiry relative to the time of the write
	// instead of Expires (Redis SET ... EX/PX): the store reads the clock
	// once for both.
	TTL time.Duration
	// KeepTTL keeps the key's current expiry (Redis SET KEEPTTL).
	KeepTTL bool
	// Flags are opaque client flags stored with the value.
	Flags uint32
	// Cond makes the write conditional; a failed condition returns
	// ErrNotStored.
	Cond Cond
	// Version is the version IfVersion compares with.
	Version Version
}

// Set stores value under key. A ttl > 0 expires it after ttl, a ttl of 0
// means no expiry, and a negative ttl deletes the key (it is born expired).
func (st *Store) Set(key string, value []byte, ttl time.Duration) error {
	now := st.nowMS()
	_, _, err := st.write(key, value, WriteOptions{Expires: expiresAt(now, ttl)}, now, nil)
	return err
}

// Write stores value under key as o says and returns the new record's
// description. A write that deletes the key returns a zero Item.
func (st *Store) Write(key string, value []byte, o WriteOptions) (Item, error) {
	it, _, err := st.write(key, value, o, st.nowMS(), nil)
	return it, err
}

// write is Write at time now. If old is not nil, the key's value before the
// write is appended to *old, and found reports whether there was one.
func (st *Store) write(key string, value []byte, o WriteOptions, now int64, old *[]byte) (it Item, found bool, err error) {
	if err := st.checkValue(key, value); err != nil {
		return Item{}, false, err
	}
	sh, tag, err := st.lockWrite(key)
	if err != nil {
		return Item{}, false, err
	}
	var ticket pending
	defer st.await(&ticket, &err)
	defer sh.mu.Unlock()
	i := sh.find(tag, key)
	cur := sh.live(i, now)
	if old != nil && cur != nil {
		*old = append(*old, cur.value()...)
	}
	found = cur != nil
	switch {
	case o.Cond == IfAbsent && cur != nil,
		o.Cond == IfPresent && cur == nil,
		o.Cond == IfVersion && (cur == nil || cur.version() != o.Version):
		return Item{}, found, ErrNotStored
	}
	exp := o.Expires
	if o.TTL > 0 {
		exp = expiresAt(now, o.TTL)
	}
	if o.KeepTTL && cur != nil {
		exp = cur.expires()
	}
	if expired(exp, now) {
		if cur != nil {
			ticket = sh.delete(tag, key, i, st.version(now), now)
		}
		sh.settle(now)
		return Item{}, found, nil
	}
	it = Item{Expires: min(exp, maxExpires), Flags: o.Flags, Version: st.version(now)}
	if ticket, err = sh.writeLive(tag, key, i, value, it, now); err != nil {
		return Item{}, found, err
	}
	return it, found, nil
}

// writeLive writes a live record for key, whose index slot is i (or -1),
// settles the shard and passes the write to the replicator: the end of
// every local write of a value.
func (sh *shard) writeLive(tag uint32, key string, i int, value []byte, it Item, now int64) (ticket pending, err error) {
	err = sh.write(tag, key, i, value, it, 0, false)
	sh.settle(now)
	if err != nil {
		return pending{}, err
	}
	return sh.emit(key, value, it, false), nil
}

// write stores a record for key, whose index slot is i (or -1): in place
// when it fits in the space of the record it replaces (rewritten sessions
// mostly change their size a little), and otherwise at the shard's head.
func (sh *shard) write(tag uint32, key string, i int, value []byte, it Item, state byte, force bool) error {
	size := recordSize(len(key), len(value), it.Flags)
	room := size
	if i >= 0 {
		loc := entryLoc(sh.idx.slots[i])
		v := sh.at(loc)
		space := v.space()
		if pad := space - size; pad == 0 || pad >= padField && pad <= min(space/maxPadShare, maxPad) {
			sh.count(v, -1)
			// Written in place, the record stays in its old segment: mark
			// it used, or allkeys-lru would evict the sessions written
			// most often (a GET then a SET) as if never touched.
			v = writeRecordPad(v, key, value, it, state|recRef, pad)
			sh.count(v, 1)
			sh.seg(loc).noteExpiry(v.expires())
			return nil
		}
		if state&recTomb == 0 && !v.tomb() {
			// A session that changed size that much is likely to change
			// again: give it room to grow.
			room = roomFor(size)
		}
	}
	edits := sh.idx.edits
	loc, dst, err := sh.alloc(room, force)
	if err != nil {
		return fmt.Errorf("%w (writing %q)", err, truncKey(key))
	}
	writeRecordPad(dst, key, value, it, state, room-size)
	if sh.idx.edits != edits {
		i = sh.find(tag, key) // alloc evicted and shifted the index
	}
	sh.put(tag, i, loc)
	return nil
}

// A record rewritten by a shorter one keeps its space when at most
// 1/maxPadShare of it is left unused; a rewrite that does not fit moves,
// and takes 1/growRoom more than it needs (roomFor).
const (
	maxPadShare = 8
	growRoom    = 32
)

// roomFor returns the space to give a record of size bytes that moves
// because its key's rewrite did not fit: 1/growRoom more, as much as a pad
// field can say and, for a record that fits in a segment, no more than a
// segment.
func roomFor(size int) int {
	pad := min(size/growRoom, maxPad)
	if size <= segmentSize {
		pad = min(pad, segmentSize-size)
	}
	if pad < padField {
		return size
	}
	return size + pad
}

// delete removes the record in slot i by a local delete, leaving a
// tombstone at version ver if the store keeps them, and passes the delete to
// the replicator. A tombstone lives as long as the record could have, and
// at least TombstoneTTL.
func (sh *shard) delete(tag uint32, key string, i int, ver Version, now int64) (ticket pending) {
	if !sh.st.opts.Tombstones {
		sh.remove(i)
		// The log keeps the delete, versioned, though memory does not.
		ticket.pos, ticket.err = sh.persist(entryTomb, key, nil, Item{Version: ver})
		return ticket
	}
	exp := min(ver.wallMS()+sh.st.opts.TombstoneTTL.Milliseconds(), maxExpires)
	if e := sh.at(entryLoc(sh.idx.slots[i])).expires(); e > exp {
		exp = e
	}
	it := Item{Expires: exp, Version: ver}
	// Forced: a delete must not fail for want of memory.
	_ = sh.write(tag, key, i, nil, it, recTomb, true)
	return sh.emit(key, nil, it, true)
}

// Delete removes key and reports whether it existed.
func (st *Store) Delete(key string) (found bool, err error) {
	sh, tag, err := st.lockWrite(key)
	if err != nil {
		return false, err
	}
	var ticket pending
	defer st.await(&ticket, &err)
	defer sh.mu.Unlock()
	now := st.nowMS()
	i := sh.find(tag, key)
	if i < 0 {
		return false, nil
	}
	v := sh.at(entryLoc(sh.idx.slots[i]))
	switch {
	case v.tomb():
		return false, nil
	case v.expired(now):
		sh.remove(i)
		st.expirations.Add(1)
	default:
		ticket = sh.delete(tag, key, i, st.version(now), now)
		found = true
	}
	sh.settle(now)
	return found, nil
}

// Exists reports whether key holds a live record.
func (st *Store) Exists(key string) (bool, error) {
	_, found, err := st.TTL(key)
	return found, err
}

// TTL returns the time key has left to live; 0 for a key without expiry.
// An expiry further off than a Duration holds (292 years) is reported as
// the longest Duration; Expiry gives it exactly.
func (st *Store) TTL(key string) (ttl time.Duration, found bool, err error) {
	e, now, found, err := st.expiry(key)
	switch {
	case !found || e == 0:
		return 0, found, err
	case e-now > int64(math.MaxInt64/time.Millisecond):
		return math.MaxInt64, true, nil
	}
	return time.Duration(e-now) * time.Millisecond, true, nil
}

// Expiry returns key's absolute expiry in unix milliseconds, 0 for a key
// without one. Unlike TTL it holds any expiry, however far.
func (st *Store) Expiry(key string) (expires int64, found bool, err error) {
	expires, _, found, err = st.expiry(key)
	return expires, found, err
}

// expiry returns key's expiry and the time it was read at, under the
// key's lock: a TTL computed from both cannot see a write made after the
// clock was read.
func (st *Store) expiry(key string) (expires, now int64, found bool, err error) {
	sh, tag, err := st.lock(key)
	if err != nil {
		return 0, 0, false, err
	}
	defer sh.mu.Unlock()
	now = st.nowMS()
	v := sh.live(sh.find(tag, key), now)
	if v == nil {
		return 0, now, false, nil
	}
	return v.expires(), now, true, nil
}

// Touch gives key a new time to live without rewriting its value. A ttl <= 0
// deletes the key, as Redis's EXPIRE does. It reports whether key existed.
func (st *Store) Touch(key string, ttl time.Duration) (found bool, err error) {
	now := st.nowMS()
	if ttl <= 0 {
		return st.expire(key, -1, now)
	}
	return st.expire(key, expiresAt(now, ttl), now)
}

// Expire sets key's absolute expiry in unix milliseconds: 0 removes the
// expiry (Redis PERSIST), a time already past deletes the key. It reports
// whether key existed.
func (st *Store) Expire(key string, expires int64) (found bool, err error) {
	return st.expire(key, expires, st.nowMS())
}

func (st *Store) expire(key string, expires, now int64) (found bool, err error) {
	found, _, err = st.expireIf(key, expires, ExpireAlways, now)
	return found, err
}

// Len returns the number of keys. Keys that expired count until they are
// reclaimed, within about a second, as in Redis's DBSIZE.
func (st *Store) Len() (int, error) {
	n := 0
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		n += sh.keys
		sh.mu.Unlock()
	}
	if st.closed.Load() {
		return 0, ErrClosed
	}
	return n, nil
}

// Clear deletes every key, tombstones included, and frees their memory.
// With a replicator, it deletes what was written before it, and replicas do
// the same (ClearBefore): a write that races with the Clear is kept or
// dropped alike on every store, by its version, and nothing older comes
// back from a replica.
func (st *Store) Clear() (err error) {
	if st.closed.Load() {
		return ErrClosed
	}
	if err := st.journal.refuse(); err != nil {
		return err
	}
	if st.loading.Load() {
		return ErrLoading
	}
	r := st.opts.Replicator
	if r == nil && st.journal == nil {
		for i := range st.shards {
			sh := &st.shards[i]
			sh.mu.Lock()
			if st.closed.Load() {
				sh.mu.Unlock()
				return ErrClosed
			}
			sh.reset()
			sh.mu.Unlock()
		}
		return nil
	}
	// By version, so that a write racing with the Clear is kept or
	// dropped alike in memory, in the log and on every replica.
	v := st.version(st.nowMS())
	var ticket pending
	ticket.pos, ticket.err = st.clearBefore(v)
	if ticket.err != nil {
		return ticket.err
	}
	if r != nil {
		ticket.repl = r.ReplicateClear(v)
	}
	st.await(&ticket, &err)
	return err
}

// ClearBefore deletes every key, tombstones included, whose version is
// lower than v, and keeps out any record under v that arrives later (by
// Apply): it is how a replica applies another store's Clear. Keys written
// after v stay.
func (st *Store) ClearBefore(v Version) error {
	pos, err := st.clearBefore(v)
	if err == nil && pos != 0 {
		err = st.journal.commit(pos)
	}
	return err
}

// clearBefore is ClearBefore; it returns the log position of the clear.
func (st *Store) clearBefore(v Version) (pos uint64, err error) {
	if st.closed.Load() {
		return 0, ErrClosed
	}
	// The floor first: a snapshot that begins after the clear's entry
	// went to the log it replaces must record the floor, or the keys
	// the clear removes after it visited them would come back.
	st.clock.Update(v.Time)
	st.floor.raise(v)
	if j := st.journal; j != nil && !st.loading.Load() {
		// Logged before anything is removed: a crash half-way through
		// must not bring back what it removed.
		if pos, err = j.append(entryClear, "", nil, Item{Version: v}); err != nil {
			return 0, err
		}
	}
	now := st.nowMS()
	for s := range st.shards {
		sh := &st.shards[s]
		sh.mu.Lock()
		if st.closed.Load() {
			sh.mu.Unlock()
			return 0, ErrClosed
		}
		if sh.newest.Compare(v) < 0 {
			sh.reset() // nothing to keep: free it all at once
			sh.mu.Unlock()
			continue
		}
		for i := 0; i < len(sh.idx.slots); {
			e := sh.idx.slots[i]
			if e != 0 && sh.at(entryLoc(e)).version().Compare(v) < 0 {
				sh.remove(i) // the next entry may shift into slot i
				continue
			}
			i++
		}
		sh.settle(now)
		sh.mu.Unlock()
	}
	return pos, nil
}

// Floor returns the version of the latest Clear or ClearBefore: the store
// keeps no record with a lower version. Zero if there was none.
func (st *Store) Floor() Version { return st.floor.load() }

// reset frees everything the shard holds.
func (sh *shard) reset() {
	for id, s := range sh.segs {
		if s != nil {
			sh.free(uint16(id))
		}
	}
	if sh.idx.slots != nil {
		sh.st.mem.releaseBlock(sliceBytes(sh.idx.slots))
	}
	sh.idx = index{}
	sh.segs, sh.freeIDs, sh.pending = nil, nil, nil
	sh.head, sh.keys, sh.vols, sh.tombs, sh.bytes = 0, 0, 0, 0, 0
	sh.newest = Version{}
}
