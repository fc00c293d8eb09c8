package sessiond

import "time"

// An Entry is a key as an Update function finds it, under the key's lock,
// and the change the function asks for. It is valid only during the
// function's call.
type Entry struct {
	found bool
	value []byte // the record's, in the store's memory
	it    item   // the record's; zero if not found
	now   int64  // unix ms, read under the lock
	used  bool   // Value was read: for allkeys-lru, a use

	op       entryOp
	newValue []byte
	expSet   bool
	newExp   int64 // unix ms, as expiresMS gives it
	flagsSet bool
	newFlags uint32
}

type entryOp uint8

const (
	opKeep entryOp = iota
	opSet
	opDelete
)

// Found reports whether the key holds a live record.
func (e *Entry) Found() bool { return e.found }

// Value returns the key's value, nil if it was not found. It points into
// the store's memory: it is valid only during the call, and must be copied
// to be kept or passed to Set.
func (e *Entry) Value() []byte {
	e.used = true
	return e.value
}

// Item describes the record found: its expiry, flags and version. It is
// zero if the key was not found.
func (e *Entry) Item() Item { return e.it.public() }

// Now is the time of the update, to the millisecond, as the store's clock
// (Options.Now) read it: expiries are judged by it, and a new expiry
// relative to it reads the clock no second time.
func (e *Entry) Now() time.Time { return time.UnixMilli(e.now) }

// Set asks for value to be stored under the key once the function
// returns. The key keeps its expiry and flags (a new key has neither),
// unless SetExpires or SetFlags says otherwise. value must not be the
// slice Value returned, and must stay unchanged until Update returns.
func (e *Entry) Set(value []byte) { e.op, e.newValue = opSet, value }

// SetExpires asks for the key to expire at t: the zero Time for never, a
// time not after Now to delete it (as Redis's EXPIRE with a time past).
// Without Set, it changes the expiry of a key that was found, and of no
// other.
func (e *Entry) SetExpires(t time.Time) { e.expires(expiresMS(t)) }

// expires is SetExpires in unix ms: 0 for never, negative for past.
func (e *Entry) expires(ms int64) { e.expSet, e.newExp = true, ms }

// SetFlags sets the opaque flags Set stores with the value (the memcached
// protocol's; zero for most callers). Without Set, nothing changes.
func (e *Entry) SetFlags(flags uint32) { e.flagsSet, e.newFlags = true, flags }

// Delete asks for the key to be deleted once the function returns. It
// undoes a Set, and a Set after it undoes it.
func (e *Entry) Delete() { e.op = opDelete }

// Update reads and changes key in one step: fn runs under the key's lock,
// so no other change of the key comes between what fn reads and what it
// writes. fn finds the key in e (Found, Value, Item) and asks for a change
// (Set, SetExpires, SetFlags, Delete), which the store makes once fn
// returns nil; a function that asks for none reads the key and changes
// nothing. If fn returns an error, nothing changes and Update returns the
// error as it is. While the data directory refuses changes, Update returns
// ErrNotPersisted without calling fn.
//
// fn must be quick, as it holds up every key of the key's partition, and
// must not call the store, or it deadlocks. Update returns the Item of the
// record the key holds afterwards (the one found, if nothing changed), zero
// if none; a change waits, as every change does, for the data directory
// and the replicas before it returns.
func (st *Store) Update(key string, fn func(e *Entry) error) (it Item, err error) {
	var after item
	err = st.change(key, func(sh *shard, tag uint32, now int64) (pending, error) {
		// Update is a change: while the data directory refuses changes,
		// it fails before fn runs, whatever fn would have asked, as a
		// write command does in Redis. A key too long to be stored is
		// simply not found; a Set of it fails (applyEntry).
		if err := st.journal.refuse(); err != nil {
			return pending{}, err
		}
		i := sh.find(tag, key)
		v := sh.live(i, now)
		e := &sh.entry // in the shard, not on the stack: fn would move it to the heap
		*e = Entry{now: now}
		defer func() { *e = Entry{} }() // keeps none of fn's memory
		if v != nil {
			e.found, e.value, e.it = true, v.value(), v.item()
		}
		if err := fn(e); err != nil {
			after = e.it
			return pending{}, err
		}
		var t pending
		var err error
		after, t, err = sh.applyEntry(tag, key, i, v, e, now)
		return t, err
	})
	return after.public(), err
}

// applyEntry makes the change e asks for of key, whose index slot is i
// and whose live record, if any, is v. It returns the record's
// description afterwards: the one found if it makes no change.
func (sh *shard) applyEntry(tag uint32, key string, i int, v view, e *Entry, now int64) (it item, t pending, err error) {
	st := sh.st
	change := e.op != opKeep || (e.expSet && v != nil)
	if !change {
		if v != nil && e.used {
			v[0] |= recRef // a read, for allkeys-lru
		}
		return e.it, pending{}, nil
	}
	switch {
	case e.op == opDelete:
		if v != nil {
			t = sh.delete(tag, key, i, st.version(now), now)
			sh.settle(now)
		}
		return item{}, t, nil
	case e.op == opKeep: // a new expiry alone
		t = sh.setExpiry(tag, key, i, e.newExp, now)
		if expired(e.newExp, now) {
			return item{}, t, nil
		}
		return v.item(), t, nil
	}
	if err := st.checkValue(key, e.newValue); err != nil {
		return e.it, pending{}, err
	}
	it = item{Expires: e.it.Expires, Flags: e.it.Flags, Version: st.version(now)}
	if e.expSet {
		it.Expires = e.newExp
	}
	if e.flagsSet {
		it.Flags = e.newFlags
	}
	if expired(it.Expires, now) {
		if v != nil {
			t = sh.delete(tag, key, i, it.Version, now)
		}
		sh.settle(now)
		return item{}, t, nil
	}
	it.Expires = min(it.Expires, maxExpires)
	if t, err = sh.writeLive(tag, key, i, e.newValue, it, now); err != nil {
		return e.it, pending{}, err
	}
	return it, t, nil
}

// change is every local change of one key, and the one place that orders
// its steps: it locks the key's partition, runs op with the time read
// under the lock, unlocks, and only then waits for what op's change left
// pending, the data directory's log and the replicas (see await). The
// wait comes after the unlock, so that a slow disk or replica holds up
// the caller alone, not the other keys of its partition; and before the
// return, so that no change is acknowledged before it is as safe as the
// store promises. op checks st.journal.refuse before it changes anything.
func (st *Store) change(key string, op func(sh *shard, tag uint32, now int64) (pending, error)) error {
	t, err := st.locked(key, op)
	if err != nil {
		return err
	}
	return st.await(t)
}

// locked runs op under key's lock; the unlock is deferred, so that a
// panicking Update function does not leave the partition locked.
func (st *Store) locked(key string, op func(sh *shard, tag uint32, now int64) (pending, error)) (pending, error) {
	sh, tag, err := st.lock(key)
	if err != nil {
		return pending{}, err
	}
	defer sh.mu.Unlock()
	return op(sh, tag, st.nowMS())
}

// expired reports whether an absolute expiry set at now deletes the key: a
// negative one, or one past.
func expired(expires, now int64) bool { return expires < 0 || (expires != 0 && expires <= now) }

// setExpiry gives the live record in slot i a new expiry, deleting it if
// the expiry has passed, and passes the change to the replicator.
func (sh *shard) setExpiry(tag uint32, key string, i int, expires, now int64) (ticket pending) {
	if expired(expires, now) {
		ticket = sh.delete(tag, key, i, sh.st.version(now), now)
		sh.settle(now)
		return ticket
	}
	loc := entryLoc(sh.idx.slots[i])
	v := sh.at(loc)
	sh.count(v, -1)
	v[0] |= recRef // a touch is a use, for allkeys-lru
	v.setExpires(expires)
	v.setVersion(sh.st.version(now))
	sh.count(v, 1)
	sh.seg(loc).noteExpiry(v.expires())
	return sh.emit(key, v.value(), v.item(), false)
}
