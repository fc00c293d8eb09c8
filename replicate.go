package sessiond

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Replica is the store as replication uses it: a node streams its records
// to peers (Records, Load) and merges theirs (Apply, ApplyBatch), and a
// Clear made elsewhere reaches it as ClearBefore. Package cluster is built
// on these, and a web application needs none of them. Get one with
// Store.Replica; it is a handle, as cheap to copy as a pointer.
type Replica struct{ st *Store }

// Replica returns the store's replication operations.
func (st *Store) Replica() Replica { return Replica{st} }

// Replicator copies a store's local changes to other stores: package
// cluster provides one, installed with Options.Replicator. Changes applied
// through Replica came from elsewhere and are not passed on.
type Replicator interface {
	// Replicate is called for every local change of a key: a write, a
	// new expiry (with the value, so that a replica missing the key gets
	// it whole), a delete (rec.Deleted). It runs with the key's partition
	// locked, so the changes of one key arrive in version order. rec.Key
	// and rec.Value are valid only during the call: Replicate copies what
	// it keeps, and must neither block nor call the store. It returns a
	// ticket for Wait. (rec is passed by value: a pointer would move it to
	// the heap, through the interface, on every write.)
	Replicate(rec Record) (ticket uint64)

	// ReplicateClear is called when Clear removed every key written
	// before version v: replicas do the same with Replica.ClearBefore.
	ReplicateClear(v Version) (ticket uint64)

	// Wait returns when the change with the ticket has been applied as
	// the replicator promises (for example, by k peers), or an error that
	// says why not; the store calls it after unlocking, before the
	// operation that made the change returns. The change stays applied
	// locally either way.
	Wait(ticket uint64) error
}

// ErrNotReplicated wraps Wait's errors: the change was made here but not
// acknowledged by as many replicas as configured.
var ErrNotReplicated = errors.New("sessiond: not replicated")

// emit passes the local change of key, as the record v now holds it, to the
// data directory's log and to the replicator. It is called with the shard
// locked; value is the record's value (in v, or the caller's slice it was
// written from).
func (sh *shard) emit(key string, value []byte, it item, deleted bool) pending {
	kind := byte(entryPut)
	if deleted {
		kind = entryTomb
	}
	var p pending
	p.pos, p.err = sh.persist(kind, key, value, it)
	if r := sh.st.opts.Replicator; r != nil {
		p.repl = r.Replicate(Record{Key: key, Value: value, Expires: it.Expires, Flags: it.Flags, Version: it.Version, Deleted: deleted})
	}
	return p
}

// await waits for what the change t left pending, the log's flush and the
// replication, and returns the reason either failed. change calls it once
// the key is unlocked.
func (st *Store) await(t pending) error {
	if t.err != nil {
		return t.err
	}
	if t.pos != 0 && !st.opts.DeferWrites {
		if err := st.journal.commit(t.pos); err != nil {
			return err
		}
	}
	if t.repl != 0 {
		if err := st.opts.Replicator.Wait(t.repl); err != nil {
			return fmt.Errorf("%w: %w", ErrNotReplicated, err)
		}
	}
	return nil
}

// floor is the version below which nothing is kept: the version of the
// last Clear or ClearBefore. Apply refuses records under it, so a replica
// that missed a clear cannot bring the cleared keys back.
type floor struct{ v atomic.Pointer[Version] }

func (f *floor) load() Version {
	if p := f.v.Load(); p != nil {
		return *p
	}
	return Version{}
}

// raise moves the floor up to v, never down.
func (f *floor) raise(v Version) {
	for {
		p := f.v.Load()
		if p != nil && p.Compare(v) >= 0 {
			return
		}
		if f.v.CompareAndSwap(p, &v) {
			return
		}
	}
}
