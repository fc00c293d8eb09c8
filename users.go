package sessiond

import (
	"hash/maphash"
	"sync"
	"unsafe"
)

// The user index files each session whose value belongs to a user
// (Options.UserID) under the user, so that a user's sessions can be listed
// and revoked without a scan. It is exact: a record is filed when it is
// written and taken out when it goes, by whatever path — an overwrite that
// moves the session to another user or to none, a delete, an expiry, an
// eviction, a flush, a replicated write, a load from disk.
//
// Each shard keeps it up to date under its own lock, at the two places a
// record of a key comes and goes: shard.write, which replaces a key's
// record, and shard.remove, which drops one. A record moved by compaction
// keeps its key and value, so the index does not hear of it. The record
// carries the hash of its user's id (layout.go), so that an overwrite by
// the same user, the usual case, costs one lookup in the new value and a
// comparison, and nothing in the index.
//
// The index holds hashes only: for each user id's hash, the hashes of its
// sessions' keys. A listing finds each key in its shard by the hash, and
// checks there that the record is live and that its value names the user,
// which also settles collisions of either hash.
type users struct {
	id    func(value []byte) ([]byte, bool)
	seed  maphash.Seed
	parts [userParts]userPart
}

// userParts is the number of independently locked parts of the user
// index; a user's part is chosen by the top bits of the hash of its id.
const userParts = 64

// userPart is one part of the user index. Its lock is taken inside a
// shard's (never the other way round) or alone.
type userPart struct {
	mu sync.Mutex
	// one holds the users with a single session (most users of most
	// sites): the key's hash is the map's value, with no list to allocate.
	one map[uint64]uint64
	// many holds the users with two sessions or more, up to bigUser: a
	// session is taken out of a list by a scan of it.
	many map[uint64][]uint64
	// big holds the users with more than bigUser sessions (an account
	// shared by a kiosk, a client that logs in on every request), as a
	// set of their key hashes with the count of keys of each hash, so
	// that taking one out does not cost a scan of them all.
	big map[uint64]map[uint64]uint32
	// sessions counts the sessions filed here.
	sessions int
	// peak is the most users the maps held since they were last made:
	// Go's maps never give memory back, so after most users have gone
	// (a flush, a mass expiry) they are made again.
	peak int
	_    [16]byte // to 64 bytes, a cache line of its own
}

// A user with more than bigUser sessions has a set of them, not a list;
// one whose set shrinks to bigUser/2 has a list again.
const bigUser = 64

func newUsers(id func([]byte) ([]byte, bool), seed maphash.Seed) *users {
	u := &users{id: id, seed: seed}
	for i := range u.parts {
		u.parts[i].one = make(map[uint64]uint64)
		u.parts[i].many = make(map[uint64][]uint64)
		u.parts[i].big = make(map[uint64]map[uint64]uint32)
	}
	return u
}

// of returns the hash of the id of the user value belongs to, and false if
// it belongs to none. x may be nil: no index.
func (x *users) of(value []byte) (uint64, bool) {
	if x == nil {
		return 0, false
	}
	id, ok := x.id(value)
	if !ok {
		return 0, false
	}
	return maphash.Bytes(x.seed, id), true
}

// hashID returns the hash the index files a user id under.
func (x *users) hashID(id string) uint64 { return maphash.String(x.seed, id) }

func (x *users) part(user uint64) *userPart { return &x.parts[user>>(64-6)] }

// add files the key whose hash is key under user.
func (x *users) add(user, key uint64) {
	p := x.part(user)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions++
	if set, ok := p.big[user]; ok {
		set[key]++
		return
	}
	if list, ok := p.many[user]; ok {
		if len(list) == bigUser {
			set := make(map[uint64]uint32, 2*bigUser)
			for _, k := range list {
				set[k]++
			}
			set[key]++
			delete(p.many, user)
			p.big[user] = set
			return
		}
		if len(list) == cap(list) {
			list = resized(list, len(list)+1)
		}
		p.many[user] = append(list, key)
		return
	}
	if first, ok := p.one[user]; ok {
		delete(p.one, user)
		list := make([]uint64, 2)
		list[0], list[1] = first, key
		p.many[user] = list
		return
	}
	p.one[user] = key
	p.peak = max(p.peak, p.users())
}

// users counts the users filed in the part.
func (p *userPart) users() int { return len(p.one) + len(p.many) + len(p.big) }

// remove takes the key whose hash is key out from under user. It must be
// there.
func (x *users) remove(user, key uint64) {
	p := x.part(user)
	p.mu.Lock()
	defer p.mu.Unlock()
	if set, ok := p.big[user]; ok && set[key] > 0 {
		if set[key]--; set[key] == 0 {
			delete(set, key)
		}
		if len(set) <= bigUser/2 {
			list := make([]uint64, 0, listCap(bigUser/2+bigUser/8))
			for k, n := range set {
				for range n {
					list = append(list, k)
				}
			}
			delete(p.big, user)
			p.many[user] = list
		}
		p.removed()
		return
	}
	if list, ok := p.many[user]; ok {
		for i, k := range list {
			if k != key {
				continue
			}
			last := len(list) - 1
			list[i] = list[last]
			list = list[:last]
			switch {
			case len(list) == 1:
				delete(p.many, user)
				p.one[user] = list[0]
			case len(list) < cap(list)/2 && cap(list) > 4:
				p.many[user] = resized(list, len(list))
			default:
				p.many[user] = list
			}
			p.removed()
			return
		}
	} else if k, ok := p.one[user]; ok && k == key {
		delete(p.one, user)
		p.removed()
		return
	}
	panic("sessiond: the user index lost a session")
}

// removed counts a session gone, and makes the maps again once they hold
// a quarter of the users they once did.
func (p *userPart) removed() {
	p.sessions--
	n := p.users()
	if p.peak < 1024 || n >= p.peak/4 {
		return
	}
	// Copied one by one: maps.Clone copies the table as it is, at its
	// size.
	one := make(map[uint64]uint64, len(p.one))
	for u, k := range p.one {
		one[u] = k
	}
	many := make(map[uint64][]uint64, len(p.many))
	for u, l := range p.many {
		many[u] = l
	}
	big := make(map[uint64]map[uint64]uint32, len(p.big))
	for u, set := range p.big {
		big[u] = set
	}
	p.one, p.many, p.big, p.peak = one, many, big, n
}

// keys appends the hashes of the keys filed under user to dst.
func (x *users) keys(dst []uint64, user uint64) []uint64 {
	p := x.part(user)
	p.mu.Lock()
	defer p.mu.Unlock()
	if list, ok := p.many[user]; ok {
		return append(dst, list...)
	}
	if k, ok := p.one[user]; ok {
		return append(dst, k)
	}
	for k := range p.big[user] {
		dst = append(dst, k) // a hash twice is found twice at once
	}
	return dst
}

// counts returns how many users and sessions the index holds.
func (x *users) counts() (users, sessions int) {
	if x == nil {
		return 0, 0
	}
	for i := range x.parts {
		p := &x.parts[i]
		p.mu.Lock()
		users += p.users()
		sessions += p.sessions
		p.mu.Unlock()
	}
	return users, sessions
}

// resized returns list in a new array with room for n entries, n at least
// len(list), and some more to grow into: a quarter more, up to the end of
// the allocator's size class, so that no allocated byte is left out of
// the capacity. Appends then cost amortized O(1), and a user's list wastes
// a tenth of its length on average where doubling would waste a quarter.
func resized(list []uint64, n int) []uint64 {
	c := listCap(n + n/4)
	out := make([]uint64, len(list), c)
	copy(out, list)
	return out
}

// listCap rounds a capacity of n 8-byte entries up to the end of Go's
// allocator size class that holds it (runtime/sizeclasses.go), for lists
// up to 1 KiB; a longer list keeps n, within an eighth of its class.
func listCap(n int) int {
	for _, c := range listClasses {
		if c >= n {
			return c
		}
	}
	return n
}

var listClasses = [...]int{1, 2, 3, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 52, 56, 60, 64, 72, 80, 88, 96, 112, 128}

// reindex moves the key from the user its old record belonged to (old,
// if hadOld) to the one its new record belongs to (user, if has), when
// they differ. It is called with the key's shard locked.
func (sh *shard) reindex(key string, old uint64, hadOld bool, user uint64, has bool) {
	if hadOld == has && old == user {
		return
	}
	x := sh.st.users
	k := sh.st.hash(key)
	if hadOld {
		x.remove(old, k)
	}
	if has {
		x.add(user, k)
	}
}

// unindex takes the record v, which is leaving the store, out of the user
// index.
func (sh *shard) unindex(v view) {
	if u, ok := v.user(); ok {
		k := v.key()
		sh.st.users.remove(u, sh.st.hash(unsafe.String(unsafe.SliceData(k), len(k))))
	}
}
