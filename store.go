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

	users *users // the user index; nil without Options.UserID

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
	if opts.UserID != nil {
		st.users = newUsers(opts.UserID, st.seed, &st.mem, st.mask)
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
		sh.drop()
		sh.mu.Unlock()
	}
	st.users.close()
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

// Options returns the options the store runs with: those it was opened
// with, defaults applied (Shards rounded up to a power of two, Tombstones
// on with a Replicator). A server or a cluster node serving the store reads
// its settings here, not from a copy of the options it was given.
func (st *Store) Options() Options { return st.opts }

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
// callers that reuse a buffer, as a server does for each connection: it
// allocates nothing when dst has room.
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
	return append(dst, v.value()...), v.item().public(), true, nil
}

// Cond is the condition of a conditional Write.
type Cond uint8

const (
	// Always writes unconditionally.
	Always Cond = iota
	// IfAbsent writes only a key that does not exist (Redis SET NX,
	// memcached add): a new session never replaces one that holds the
	// same id.
	IfAbsent
	// IfPresent writes only a key that exists (Redis SET XX, memcached
	// replace).
	IfPresent
)

// WriteOptions shape a Write. The zero value writes unconditionally, with
// no expiry and no flags.
type WriteOptions struct {
	// TTL, if positive, expires the key that long after the write.
	TTL time.Duration
	// Expires, if TTL is not positive and Expires is not zero, is when the
	// key expires. A time already past deletes the key, as Redis does.
	Expires time.Time
	// KeepTTL keeps the expiry of a key that exists, whatever TTL and
	// Expires say (Redis SET KEEPTTL).
	KeepTTL bool
	// Flags are opaque flags stored with the value (memcached's).
	Flags uint32
	// Cond makes the write conditional: a failed condition returns
	// ErrNotStored and writes nothing.
	Cond Cond
}

// Set stores value under key. A ttl > 0 expires it after ttl, a ttl of 0
// means no expiry, and a negative ttl deletes the key (it is born expired).
func (st *Store) Set(key string, value []byte, ttl time.Duration) error {
	exp := int64(0)
	if ttl < 0 {
		exp = -1
	}
	_, err := st.write(key, value, WriteOptions{TTL: ttl}, exp)
	return err
}

// Write stores value under key as o says and returns the new record's
// description. A write that deletes the key returns a zero Item. It is Set
// with conditions, flags and an absolute expiry; for a change that depends
// on the value held, use Update.
func (st *Store) Write(key string, value []byte, o WriteOptions) (Item, error) {
	it, err := st.write(key, value, o, expiresMS(o.Expires))
	return it.public(), err
}

// write is Write with o.Expires in unix ms.
func (st *Store) write(key string, value []byte, o WriteOptions, expires int64) (it item, err error) {
	if err := st.checkValue(key, value); err != nil {
		return item{}, err
	}
	err = st.change(key, func(sh *shard, tag uint32, now int64) (ticket pending, err error) {
		if err := st.journal.refuse(); err != nil {
			return pending{}, err
		}
		i := sh.find(tag, key)
		cur := sh.live(i, now)
		switch {
		case o.Cond == IfAbsent && cur != nil,
			o.Cond == IfPresent && cur == nil:
			return pending{}, ErrNotStored
		}
		exp := expires
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
			return ticket, nil
		}
		it = item{Expires: min(exp, maxExpires), Flags: o.Flags, Version: st.version(now)}
		if ticket, err = sh.writeLive(tag, key, i, value, it, now); err != nil {
			it = item{}
		}
		return ticket, err
	})
	return it, err
}

// writeLive writes a live record for key, whose index slot is i (or -1),
// settles the shard and passes the write to the replicator: the end of
// every local write of a value.
func (sh *shard) writeLive(tag uint32, key string, i int, value []byte, it item, now int64) (ticket pending, err error) {
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
func (sh *shard) write(tag uint32, key string, i int, value []byte, it item, state byte, force bool) error {
	size := recordSize(len(key), len(value), it.Flags)
	var user uint64
	var has bool
	if state&recTomb == 0 {
		if user, has = sh.st.users.of(value); has {
			state |= recUser
			size += userField
		}
	}
	room := size
	if i >= 0 {
		loc := entryLoc(sh.idx.slots[i])
		v := sh.at(loc)
		space := v.space()
		if pad := space - size; pad == 0 || pad >= padField && pad <= min(space/maxPadShare, maxPad) {
			old, hadOld := v.user()
			sh.count(v, -1)
			// Written in place, the record stays in its old segment: mark
			// it used, or allkeys-lru would evict the sessions written
			// most often (a GET then a SET) as if never touched.
			v = writeRecordPad(v, key, value, it, state|recRef, pad, user)
			sh.count(v, 1)
			sh.seg(loc).noteExpiry(v.expires())
			sh.reindex(key, old, hadOld, user, has)
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
	writeRecordPad(dst, key, value, it, state, room-size, user)
	if sh.idx.edits != edits {
		i = sh.find(tag, key) // alloc evicted and shifted the index
	}
	var old uint64
	var hadOld bool
	if i >= 0 {
		old, hadOld = sh.at(entryLoc(sh.idx.slots[i])).user()
	}
	sh.put(tag, i, loc)
	sh.reindex(key, old, hadOld, user, has)
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
		ticket.pos, ticket.err = sh.persist(entryTomb, key, nil, item{Version: ver})
		return ticket
	}
	exp := min(ver.wallMS()+sh.st.opts.TombstoneTTL.Milliseconds(), maxExpires)
	if e := sh.at(entryLoc(sh.idx.slots[i])).expires(); e > exp {
		exp = e
	}
	it := item{Expires: exp, Version: ver}
	// Forced: a delete must not fail for want of memory.
	_ = sh.write(tag, key, i, nil, it, recTomb, true)
	return sh.emit(key, nil, it, true)
}

// Delete removes key and reports whether it existed.
func (st *Store) Delete(key string) (found bool, err error) {
	err = st.change(key, func(sh *shard, tag uint32, now int64) (ticket pending, err error) {
		if err := st.journal.refuse(); err != nil {
			return pending{}, err
		}
		i := sh.find(tag, key)
		if i < 0 {
			return pending{}, nil
		}
		v := sh.at(entryLoc(sh.idx.slots[i]))
		switch {
		case v.tomb():
			return pending{}, nil
		case v.expired(now):
			sh.remove(i)
			st.expirations.Add(1)
		default:
			ticket = sh.delete(tag, key, i, st.version(now), now)
			found = true
		}
		sh.settle(now)
		return ticket, nil
	})
	return found, err
}

// Exists reports whether key holds a live record.
func (st *Store) Exists(key string) (bool, error) {
	_, found, err := st.TTL(key)
	return found, err
}

// TTL returns the time key has left to live; 0 for a key without expiry.
// An expiry further off than a Duration holds (292 years) is reported as
// the longest Duration.
func (st *Store) TTL(key string) (ttl time.Duration, found bool, err error) {
	var e, now int64
	// A read: it works while the data directory refuses changes.
	_, err = st.locked(key, func(sh *shard, tag uint32, n int64) (pending, error) {
		if v := sh.live(sh.find(tag, key), n); v != nil {
			found, e = true, v.expires()
		}
		now = n
		return pending{}, nil
	})
	switch {
	case !found || e == 0:
		return 0, found, err
	case e-now > int64(math.MaxInt64/time.Millisecond):
		return math.MaxInt64, true, nil
	}
	return time.Duration(e-now) * time.Millisecond, true, nil
}

// Touch gives key a new time to live without rewriting its value. A ttl <= 0
// deletes the key, as Redis's EXPIRE does. It reports whether key existed.
func (st *Store) Touch(key string, ttl time.Duration) (found bool, err error) {
	_, err = st.Update(key, func(e *Entry) error {
		if found = e.found; found {
			exp := int64(-1)
			if ttl > 0 {
				exp = expiresAt(e.now, ttl)
			}
			e.expires(exp)
		}
		return nil
	})
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
// the same (Replica.ClearBefore): a write that races with the Clear is kept or
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
	return st.await(ticket)
}

// ClearBefore deletes every key, tombstones included, whose version is
// lower than v, and keeps out any record under v that arrives later (by
// Apply): it is how a replica applies another store's Clear. Keys written
// after v stay.
func (r Replica) ClearBefore(v Version) error { return r.st.applyClear(v) }

// applyClear is ClearBefore, for the data directory's load too.
func (st *Store) applyClear(v Version) error {
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
		if pos, err = j.append(entryClear, "", nil, item{Version: v}); err != nil {
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
func (r Replica) Floor() Version { return r.st.floor.load() }

// reset frees everything the shard holds, taking its sessions out of the
// user index.
func (sh *shard) reset() {
	if sh.st.users != nil {
		for _, e := range sh.idx.slots {
			if e != 0 {
				sh.unindex(sh.at(entryLoc(e)))
			}
		}
	}
	sh.drop()
}

// drop frees everything the shard holds and leaves the user index alone:
// for a store that is closing.
func (sh *shard) drop() {
	for id, s := range sh.segs {
		if s != nil {
			sh.free(uint16(id))
		}
	}
	sh.idx.release(&sh.st.mem)
	sh.segs, sh.freeIDs, sh.pending = nil, nil, nil
	sh.head, sh.keys, sh.vols, sh.tombs, sh.bytes = 0, 0, 0, 0, 0
	sh.newest = Version{}
}
