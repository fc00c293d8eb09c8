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
// carries the 64-bit hash of its user's id (layout.go), so that an
// overwrite by the same user, the usual case, costs one lookup in the new
// value and a comparison, and nothing in the index.
//
// The index itself holds 32-bit digests only, 8 bytes a session: the
// user's tag (32 bits of the user's hash) and the key's reference (the
// key's shard and the top bits of its tag in that shard's index). A
// listing looks in the key's shard for the records whose tags begin so,
// and keeps those whose user field is the user's whole hash and whose
// value names the user: what the digests confuse, the records tell apart.
// So the index is a multiset of (user tag, key reference) pairs, one for
// each record that names a user, and nothing else.
//
// Each part of the index is a table like a shard's (index.go): 8-byte
// entries sorted by user tag, mapped outside the Go heap (the garbage
// collector never scans it, and --maxmemory counts it), so that a user's
// sessions lie together from the tag's home slot on. A user with more
// than bigUser sessions (a kiosk's account, a client that logs in on
// every request) moves to a set of its own, so that taking one session
// out never scans a long run.
type users struct {
	id    func(value []byte) ([]byte, bool)
	seed  maphash.Seed
	mem   *memory
	mask  uint64 // the store's shard mask
	parts [userParts]userPart
}

// userParts is the number of independently locked parts of the user
// index; a user's part is chosen by the low bits of the hash of its id,
// its tag is the high 32.
const userParts = 64

// userPart is one part of the user index. Its lock is taken inside a
// shard's (never the other way round) or alone.
type userPart struct {
	mu    sync.Mutex
	table index // entries: the user's tag, then the key's reference
	// big holds the users with more than bigUser sessions: the key
	// references with how many sessions each stands for.
	big map[uint32]map[uint32]uint32
	// sessions counts the sessions filed here; users the user tags.
	sessions, users int
	_               [8]byte // to 64 bytes, a cache line of its own
}

// A user with more than bigUser sessions has a set of them, not a run of
// the table; one whose set shrinks to bigUser/2 is in the table again.
const bigUser = 64

func newUsers(id func([]byte) ([]byte, bool), seed maphash.Seed, mem *memory, mask uint64) *users {
	return &users{id: id, seed: seed, mem: mem, mask: mask}
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

// part returns user's part of the index and its tag there, never 0 (an
// entry of 0 is an empty slot).
func (x *users) part(user uint64) (*userPart, uint32) {
	return &x.parts[user%userParts], max(uint32(user>>32), 1)
}

// ref returns the key reference of the key whose hash is key: its shard in
// the low bits, as many as the store's shard mask has, and the top bits
// of its tag in the rest.
func (x *users) ref(key uint64) uint32 {
	m := uint32(x.mask)
	return uint32(key>>32)&^m | uint32(key)&m
}

// add files the key whose hash is key under user.
func (x *users) add(user, key uint64) {
	p, tag := x.part(user)
	ref := x.ref(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions++
	if set, ok := p.big[tag]; ok {
		set[ref]++
		return
	}
	start, n := p.run(tag)
	if n == 0 {
		p.users++
	}
	if n < bigUser {
		p.table.insert(makeEntry(tag, ref), x.mem)
		return
	}
	set := make(map[uint32]uint32, 2*bigUser)
	p.users-- // counted as a set now
	for range n {
		set[entryLoc(p.table.slots[start])]++
		p.table.removeAt(start) // the next entry of the run moves here
	}
	set[ref]++
	if p.big == nil {
		p.big = make(map[uint32]map[uint32]uint32)
	}
	p.big[tag] = set
}

// remove takes the key whose hash is key out from under user. It must be
// there.
func (x *users) remove(user, key uint64) {
	p, tag := x.part(user)
	ref := x.ref(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions--
	if set, ok := p.big[tag]; ok && set[ref] > 0 {
		if set[ref]--; set[ref] == 0 {
			delete(set, ref)
		}
		if len(set) <= bigUser/2 {
			delete(p.big, tag)
			p.users++ // counted in the table again
			for r, n := range set {
				for range n {
					p.table.insert(makeEntry(tag, r), x.mem)
				}
			}
		}
		return
	}
	start, n := p.run(tag)
	e := makeEntry(tag, ref)
	for i := start; i < start+n; i++ {
		if p.table.slots[i] == e {
			p.table.removeAt(i)
			if n == 1 {
				p.users--
			}
			return
		}
	}
	panic("sessiond: the user index lost a session")
}

// run returns where the table's entries of tag begin, and how many there
// are.
func (p *userPart) run(tag uint32) (start, n int) {
	x := &p.table
	if x.n == 0 {
		return 0, 0
	}
	i := x.home(tag)
	for i < len(x.slots) && x.slots[i] != 0 && entryTag(x.slots[i]) < tag {
		i++
	}
	start = i
	for i < len(x.slots) && x.slots[i] != 0 && entryTag(x.slots[i]) == tag {
		i++
	}
	return start, i - start
}

// keys appends the key references filed under user to dst.
func (x *users) keys(dst []uint32, user uint64) []uint32 {
	p, tag := x.part(user)
	p.mu.Lock()
	defer p.mu.Unlock()
	if set, ok := p.big[tag]; ok {
		for r := range set {
			dst = append(dst, r)
		}
		return dst
	}
	start, n := p.run(tag)
	for _, e := range p.table.slots[start : start+n] {
		dst = append(dst, entryLoc(e))
	}
	return dst
}

// counts returns how many users (user tags: two users whose hashes share
// one, one time in four billion, count once) and sessions the index holds.
func (x *users) counts() (users, sessions int) {
	if x == nil {
		return 0, 0
	}
	for i := range x.parts {
		p := &x.parts[i]
		p.mu.Lock()
		users += p.users + len(p.big)
		sessions += p.sessions
		p.mu.Unlock()
	}
	return users, sessions
}

// close gives the tables' memory back, for a store that is closing.
func (x *users) close() {
	if x == nil {
		return
	}
	for i := range x.parts {
		p := &x.parts[i]
		p.mu.Lock()
		p.table.release(x.mem)
		p.big = nil
		p.mu.Unlock()
	}
}

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
