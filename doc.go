// Package sessiond is a session store for web applications that run as many
// processes and on many machines. This package is the store itself, to embed
// in a Go program; the sessiond command serves the same store over the Redis
// and memcached protocols.
//
// # Basics
//
// Open a store, then Set, Get, Touch and Delete sessions by key:
//
//	st, err := sessiond.Open(nil) // nil: the defaults
//	if err != nil { ... }
//	defer st.Close()
//	err = st.Set("sess:abc", []byte(`{"user":42}`), 24*time.Hour)
//	value, found, err := st.Get("sess:abc")
//
// A ttl of 0 means no expiry; an expired session is never returned. TTL
// says how long a session has left, Exists whether it is there, Len how
// many there are, and Scan walks the keys with Redis SCAN semantics and
// glob patterns. A time to live is a time.Duration and an expiry a
// time.Time (the zero Time for none), by the store's clock: Options.Now,
// which a test sets to move time without sleeping.
//
// # Read, modify, write
//
// Update changes a session by what it holds, in one step: its function
// runs under the key's lock, so that no other change of the key comes
// between what it reads and what it writes. It sees whether the key is
// there, its value and expiry, and sets a new value, a new expiry, or
// deletes the key:
//
//	_, err := st.Update("sess:abc", func(e *sessiond.Entry) error {
//		if !e.Found() {
//			return errLoggedOut
//		}
//		e.Set(addFlash(e.Value(), "saved")) // keeps the expiry
//		return nil
//	})
//
// Write is Set with a condition (IfAbsent: a new session never replaces one
// with the same id), an absolute expiry and flags; Lookup is Get into a
// buffer the caller reuses, allocating nothing. The sessiond server builds
// every command of both protocols on these.
//
// # Persistence
//
// With Options.Dir, sessions survive the process: every change goes to an
// append-only log in that directory before the operation that made it
// returns, the log is compacted into snapshots while writes go on (Save
// starts one), and Open loads what the directory holds. A crash of the
// process loses no change whose operation returned; Options.Fsync decides
// what a crash of the machine can lose (FsyncAlways: nothing; the default,
// FsyncEverySec: about the last second). Close flushes. The directory is
// locked for the store's life: a second store on it, in any process, gets
// an error naming the holder. A damaged directory makes Open fail, naming
// the file and the offset, unless Options.Repair; a disk that refuses
// writes makes changes fail with ErrNotPersisted while reads go on.
// docs/PERSISTENCE.md has the details.
//
// # Memory
//
// Records are appended to 64 KiB segments mapped outside the Go heap, and
// found through an index of 8-byte entries, also outside the heap: the
// garbage collector never traces a record, and the Go heap stays small
// however many sessions there are. A session with a 37-byte key and a
// 512-byte value costs under 600 bytes of RSS (see docs/BENCHMARKS.md).
// Memory freed by deletes and expiry is compacted and returned to the
// kernel.
//
// Options.MaxMemory caps the memory records and index take. Past it, a
// write fails with ErrOutOfMemory, or evicts by Options.Policy.
//
// # Replication
//
// Every write carries a Version, a hybrid logical clock stamp and the node
// id, and Store.Replica gives the operations replication is built on:
// Apply merges a record from elsewhere if its version is higher, Records
// and Load read what the store holds, ClearBefore replays another store's
// Clear. With Options.Tombstones a delete leaves a versioned tombstone, so
// that a late, stale copy cannot bring a destroyed session back. Package
// cluster builds a cluster of stores on these, and passes on every local
// change as the store's Options.Replicator; a web application needs none of
// them.
//
// # Caveats
//
//   - Keys are at most 65,535 bytes, values at most Options.MaxValueSize.
//   - Expiries are kept to the millisecond (rounded up: never before the
//     time asked for) and up to the year 10889; a later one is kept as that.
//   - Len counts expired keys until they are reclaimed, within about a
//     second, as Redis's DBSIZE does.
//   - Eviction is approximate, a segment at a time: AllKeysLRU evicts the
//     oldest-written segment, giving records read since a second chance.
//   - MaxMemory bounds the records and the index. Up to 2 MiB of freed
//     segments are kept resident for reuse outside the count, and the Go
//     runtime adds a few MiB of its own.
//   - A tombstone lives as long as the deleted record could have, and at
//     least Options.TombstoneTTL; a stale copy of a key that had no expiry,
//     arriving after that, would be accepted.
package sessiond
