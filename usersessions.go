package sessiond

import (
	"cmp"
	"errors"
	"slices"
	"time"
)

// ErrNoUserIndex is returned by the user index's methods of a store opened
// without Options.UserID.
var ErrNoUserIndex = errors.New("sessiond: the store has no user index (Options.UserID is nil)")

// UserSession describes one live session of a user, as UserSessions lists
// it.
type UserSession struct {
	// Key is the session's key: for connect-redis, "sess:" and the
	// session id.
	Key string
	// Expires is when the session expires, to the millisecond; the zero
	// Time if never.
	Expires time.Time
	// Written is the time of the session's last write or TTL refresh
	// (Touch, EXPIRE), to the millisecond, by the clock of the node that
	// made it: for a session store that touches sessions as they are
	// used, the last activity.
	Written time.Time
	// Size is the length of the session's value in bytes.
	Size int
}

// UserSessions lists the live sessions of the user whose id is user, the
// most recently written first (then by key).
func (st *Store) UserSessions(user string) ([]UserSession, error) {
	var out []UserSession
	err := st.eachUserSession(user, func(sh *shard, key string, v view) {
		out = append(out, UserSession{
			Key:     key,
			Expires: timeOf(v.expires()),
			Written: time.UnixMilli(v.version().wallMS()),
			Size:    v.valLen(),
		})
	})
	slices.SortFunc(out, func(a, b UserSession) int {
		if c := b.Written.Compare(a.Written); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out, err
}

// CountUserSessions counts the live sessions of the user whose id is user.
func (st *Store) CountUserSessions(user string) (int, error) {
	n := 0
	err := st.eachUserSession(user, func(*shard, string, view) { n++ })
	return n, err
}

// RevokeUser deletes every live session of the user whose id is user but
// those whose keys are in except (the session of the request that asks, to
// log out everywhere else), and returns how many it deleted. Each is an
// ordinary delete, tombstoned, replicated and logged as Delete's, and
// RevokeUser returns once they are all as safe as Delete's would be. A
// session that changes hands (or is deleted) while RevokeUser runs is left
// as that change leaves it.
func (st *Store) RevokeUser(user string, except ...string) (int, error) {
	// Refused while changes are, even with nothing to delete, as
	// Delete refuses a missing key (and Redis a DEL under MISCONF).
	if err := st.journal.refuse(); err != nil {
		return 0, err
	}
	var keys []string
	err := st.eachUserSession(user, func(_ *shard, key string, _ view) { keys = append(keys, key) })
	if err != nil {
		return 0, err
	}
	// Filtered with no lock held, through a set: a client may send many.
	if len(except) > 0 {
		keep := make(map[string]bool, len(except))
		for _, k := range except {
			keep[k] = true
		}
		keys = slices.DeleteFunc(keys, func(k string) bool { return keep[k] })
	}
	want := st.users.hashID(user)
	tickets := make([]pending, 0, len(keys))
	n := 0
	for _, key := range keys {
		var gone bool
		t, err := st.locked(key, func(sh *shard, tag uint32, now int64) (ticket pending, err error) {
			if err := st.journal.refuse(); err != nil {
				return pending{}, err
			}
			i := sh.find(tag, key)
			v := sh.live(i, now)
			if v == nil {
				return pending{}, nil
			}
			if u, ok := v.user(); !ok || u != want {
				return pending{}, nil // no longer the user's
			}
			ticket = sh.delete(tag, key, i, st.version(now), now)
			sh.settle(now)
			gone = true
			return ticket, nil
		})
		if err != nil {
			return n, err
		}
		tickets = append(tickets, t)
		if gone {
			n++
		}
	}
	// The last first: its log position is the highest, so one commit
	// covers the others.
	for i := len(tickets) - 1; i >= 0; i-- {
		if err := st.await(tickets[i]); err != nil {
			return n, err
		}
	}
	return n, nil
}

// eachUserSession calls fn for each live session of the user whose id is
// user, with the session's shard locked; fn must not keep v. Each session
// is found in its shard by the reference the index holds, and checked
// there: it must be live, its record must carry the user's whole hash, and
// its value must name the user, so that no collision of the index's
// digests, nor of the users' hashes, lists another's session.
func (st *Store) eachUserSession(user string, fn func(sh *shard, key string, v view)) error {
	if st.closed.Load() {
		return ErrClosed
	}
	if st.users == nil {
		return ErrNoUserIndex
	}
	if st.loading.Load() {
		return ErrLoading
	}
	want := st.users.hashID(user)
	refs := st.users.keys(nil, want)
	// Two sessions with one reference are both found at each of its
	// entries.
	slices.Sort(refs)
	refs = slices.Compact(refs)
	m := uint32(st.mask)
	for _, ref := range refs {
		sh := &st.shards[ref&m]
		lo, hi := ref&^m, ref|m // the tags the reference stands for
		sh.mu.Lock()
		if st.closed.Load() {
			sh.mu.Unlock()
			return ErrClosed
		}
		now := st.nowMS()
		sh.idx.inRange(lo, hi, func(i int) {
			v := sh.at(entryLoc(sh.idx.slots[i]))
			if u, ok := v.user(); !ok || u != want || v.tomb() || v.expired(now) {
				return
			}
			if id, ok := st.users.id(v.value()); !ok || string(id) != user {
				return
			}
			k := v.key()
			fn(sh, string(k), v)
		})
		sh.mu.Unlock()
	}
	return nil
}
