package sessiond

import "fmt"

// Apply stores rec if its version is higher than the version held for
// rec.Key — a live record, an expired one not yet reclaimed, or a tombstone —
// and reports whether it did. It is how replicas merge: whatever order
// records arrive in, every store ends with the highest version of each key.
//
// rec.Deleted applies a delete. A record whose expiry has passed is applied
// as a delete too. Without Options.Tombstones a delete just removes the key;
// with it, a tombstone at rec.Version keeps lower versions out.
//
// A record older than the store's Floor (its last Clear) is refused too.
// The store's clock moves past rec.Version, so later local writes of the key
// win over it.
func (r Replica) Apply(rec Record) (applied bool, err error) {
	st := r.st
	applied, pos, err := st.apply(rec, st.nowMS())
	if err == nil && pos != 0 {
		err = st.journal.commit(pos)
	}
	return applied, err
}

// ApplyBatch applies recs in order, each as Apply does, reading the clock
// once for them all, and passes each result to fn: how a replica applies
// a message of records from a peer.
//
// With a data directory, fn hears of the records once the log holds them
// all as the FsyncPolicy says (one write, and one flush under FsyncAlways,
// for the batch).
func (r Replica) ApplyBatch(recs []Record, fn func(i int, applied bool, err error)) {
	st := r.st
	now := st.nowMS()
	if st.journal == nil {
		for i := range recs {
			ok, _, err := st.apply(recs[i], now)
			fn(i, ok, err)
		}
		return
	}
	type result struct {
		ok  bool
		err error
	}
	res := make([]result, len(recs))
	var last uint64
	for i := range recs {
		var pos uint64
		res[i].ok, pos, res[i].err = st.apply(recs[i], now)
		last = max(last, pos)
	}
	werr := st.journal.commit(last)
	for i, r := range res {
		if r.err == nil && r.ok && werr != nil {
			r.ok, r.err = false, werr
		}
		fn(i, r.ok, r.err)
	}
}

// apply is Apply with the time (unix ms) it judges expiry by. It returns
// the log position of the change, to wait for under FsyncAlways.
func (st *Store) apply(rec Record, now int64) (applied bool, pos uint64, err error) {
	if rec.Deleted {
		err = st.checkKey(rec.Key)
	} else {
		err = st.checkValue(rec.Key, rec.Value)
	}
	if err != nil {
		return false, 0, err
	}
	if rec.Version.IsZero() {
		return false, 0, fmt.Errorf("sessiond: apply %q: record has no version", truncKey(rec.Key))
	}
	sh, tag, err := st.lock(rec.Key)
	if err != nil {
		return false, 0, err
	}
	defer sh.mu.Unlock()
	st.clock.Update(rec.Version.Time)
	if rec.Version.Compare(st.floor.load()) < 0 {
		return false, 0, nil // written before a Clear this store has applied
	}
	i := sh.find(tag, rec.Key)
	if i >= 0 && rec.Version.Compare(sh.at(entryLoc(sh.idx.slots[i])).version()) <= 0 {
		return false, 0, nil
	}
	if rec.Deleted || rec.Expires < 0 || (rec.Expires != 0 && rec.Expires <= now) {
		if !st.opts.Tombstones {
			if i >= 0 {
				sh.remove(i)
				sh.settle(now)
			}
			pos, err = sh.persist(entryTomb, rec.Key, nil, item{Version: rec.Version})
			return true, pos, err
		}
		// Counted from the delete's own time, not from when it arrived,
		// so that every node drops the tombstone at the same time.
		exp := min(max(rec.Expires, rec.Version.wallMS()+st.opts.TombstoneTTL.Milliseconds()), maxExpires)
		if i >= 0 {
			exp = max(exp, sh.at(entryLoc(sh.idx.slots[i])).expires())
		}
		it := item{Expires: exp, Version: rec.Version}
		if err = sh.write(tag, rec.Key, i, nil, it, recTomb, true); err == nil {
			pos, err = sh.persist(entryTomb, rec.Key, nil, it)
		}
	} else {
		it := item{Expires: min(rec.Expires, maxExpires), Flags: rec.Flags, Version: rec.Version}
		if err = sh.write(tag, rec.Key, i, rec.Value, it, 0, false); err == nil {
			pos, err = sh.persist(entryPut, rec.Key, rec.Value, it)
		}
	}
	sh.settle(now)
	if err != nil {
		return false, 0, err
	}
	return true, pos, nil
}

// Load returns the record held for key with a copy of its value.
// Tombstones are returned with Deleted set; expired records are not
// returned.
func (r Replica) Load(key string) (rec Record, found bool, err error) {
	st := r.st
	sh, tag, err := st.lock(key)
	if err != nil {
		return Record{}, false, err
	}
	defer sh.mu.Unlock()
	i := sh.find(tag, key)
	if i < 0 {
		return Record{}, false, nil
	}
	v := sh.at(entryLoc(sh.idx.slots[i]))
	if v.expired(st.nowMS()) {
		return Record{}, false, nil
	}
	it := v.item()
	rec = Record{Key: key, Expires: it.Expires, Flags: it.Flags, Version: it.Version, Deleted: v.tomb()}
	if !rec.Deleted {
		rec.Value = append([]byte{}, v.value()...)
	}
	return rec, true, nil
}
