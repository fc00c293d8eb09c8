package sessiond

// The operations here combine a read and a write of one key under its lock,
// so that no other write can come between them. They serve the protocol
// commands that need that (GETDEL, GETEX, SET ... GET, EXPIRE NX/XX/GT/LT,
// and memcached's gat, incr and append).

// Take appends key's value to dst and deletes the key (Redis GETDEL).
func (st *Store) Take(dst []byte, key string) (value []byte, found bool, err error) {
	sh, tag, err := st.lockWrite(key)
	if err != nil {
		return dst, false, err
	}
	var ticket pending
	defer st.await(&ticket, &err)
	defer sh.mu.Unlock()
	now := st.nowMS()
	i := sh.find(tag, key)
	v := sh.live(i, now)
	if v == nil {
		return dst, false, nil
	}
	dst = append(dst, v.value()...)
	ticket = sh.delete(tag, key, i, st.version(now), now)
	sh.settle(now)
	return dst, true, nil
}

// WriteGet is Write that also appends the key's previous value to dst
// (Redis SET ... GET). The previous value is returned even when a
// condition keeps the write from happening, as Redis does.
func (st *Store) WriteGet(dst []byte, key string, value []byte, o WriteOptions) (old []byte, found bool, it Item, err error) {
	old = dst
	it, found, err = st.write(key, value, o, st.nowMS(), &old)
	return old, found, it, err
}

// ExpireCond is the condition of ExpireIf, as Redis's EXPIRE options.
type ExpireCond uint8

const (
	// ExpireAlways sets the expiry unconditionally.
	ExpireAlways ExpireCond = iota
	// ExpireNX sets it only if the key has no expiry.
	ExpireNX
	// ExpireXX sets it only if the key has an expiry.
	ExpireXX
	// ExpireGT sets it only if it is later than the current one; no
	// expiry counts as infinitely late.
	ExpireGT
	// ExpireLT sets it only if it is earlier than the current one; no
	// expiry counts as infinitely late.
	ExpireLT
)

// ExpireIf sets key's absolute expiry in unix milliseconds if cond holds
// (0 removes the expiry, a time past deletes the key). It reports whether
// the key existed and whether the expiry was set.
func (st *Store) ExpireIf(key string, expires int64, cond ExpireCond) (found, set bool, err error) {
	return st.expireIf(key, expires, cond, st.nowMS())
}

func (st *Store) expireIf(key string, expires int64, cond ExpireCond, now int64) (found, set bool, err error) {
	sh, tag, err := st.lockWrite(key)
	if err != nil {
		return false, false, err
	}
	var ticket pending
	defer st.await(&ticket, &err)
	defer sh.mu.Unlock()
	i := sh.find(tag, key)
	v := sh.live(i, now)
	if v == nil {
		return false, false, nil
	}
	// Compare with what would be stored: expiries past the header's
	// range are kept as its latest.
	if !expireCondHolds(cond, v.expires(), min(expires, maxExpires)) {
		return true, false, nil
	}
	ticket = sh.setExpiry(tag, key, i, expires, now)
	return true, true, nil
}

func expireCondHolds(cond ExpireCond, cur, next int64) bool {
	// Zero means "never": later than any time.
	later := func(a, b int64) bool { // a later than b
		switch {
		case a == 0:
			return b != 0
		case b == 0:
			return false
		}
		return a > b
	}
	switch cond {
	case ExpireNX:
		return cur == 0
	case ExpireXX:
		return cur != 0
	case ExpireGT:
		return later(next, cur)
	case ExpireLT:
		return later(cur, next)
	}
	return true
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

// GetExpire appends key's value to dst and, if change is set, gives the
// key a new absolute expiry as Expire does (Redis GETEX, memcached gat).
// The Item describes the record after the change; when the new expiry
// deleted the key, it is the record's as it was read.
func (st *Store) GetExpire(dst []byte, key string, expires int64, change bool) (value []byte, it Item, found bool, err error) {
	lock := st.lock
	if change {
		lock = st.lockWrite
	}
	sh, tag, err := lock(key)
	if err != nil {
		return dst, Item{}, false, err
	}
	var ticket pending
	defer st.await(&ticket, &err)
	defer sh.mu.Unlock()
	now := st.nowMS()
	i := sh.find(tag, key)
	v := sh.live(i, now)
	if v == nil {
		return dst, Item{}, false, nil
	}
	v[0] |= recRef
	dst = append(dst, v.value()...)
	it = v.item()
	if change {
		ticket = sh.setExpiry(tag, key, i, expires, now)
		if !expired(expires, now) {
			it = v.item() // changed in place
		}
	}
	return dst, it, true, nil
}

// Modify replaces key's value with fn's result under the key's lock, so
// that no other write comes between the read and the write (memcached
// incr, decr, append, prepend). fn gets the current value, valid only
// during the call, and the record's Item; it returns the new value, which
// must not alias cur, or an error, which Modify returns with nothing
// written. The key keeps its expiry and flags. If the key does not exist,
// fn is not called and found is false.
func (st *Store) Modify(key string, fn func(cur []byte, it Item) ([]byte, error)) (it Item, found bool, err error) {
	sh, tag, err := st.lockWrite(key)
	if err != nil {
		return Item{}, false, err
	}
	var ticket pending
	defer st.await(&ticket, &err)
	defer sh.mu.Unlock()
	now := st.nowMS()
	i := sh.find(tag, key)
	v := sh.live(i, now)
	if v == nil {
		return Item{}, false, nil
	}
	old := v.item()
	value, err := fn(v.value(), old)
	if err == nil {
		err = st.checkValue(key, value)
	}
	if err != nil {
		return old, true, err
	}
	it = Item{Expires: old.Expires, Flags: old.Flags, Version: st.version(now)}
	if ticket, err = sh.writeLive(tag, key, i, value, it, now); err != nil {
		return old, true, err
	}
	return it, true, nil
}
