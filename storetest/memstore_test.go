package storetest

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sessiond/sessiond"
)

// memStore is the reference Versioned store the suite is checked against: a
// mutex over a map, written to be obviously correct rather than fast. It
// keeps every record until it is overwritten, tombstones and expired
// records included, and filters expired ones on every read.
//
// Its bugs field switches on deliberate bugs, so that the suite's own tests
// can check that the suite notices them. With bugs == 0 it has none.
type memStore struct {
	mu    sync.Mutex
	recs  map[string]sessiond.Record
	clock uint64 // the hybrid logical clock: the highest Time issued or seen
	bugs  bug

	// order is every key of recs in scan order, built by Scan and dropped
	// by every write, so that a scan of a store nobody writes to does not
	// sort all keys on every call.
	order []scanEntry
}

// scanEntry places a key in the scan order: by hash, then by key.
type scanEntry struct {
	hash uint64
	key  string
}

// bug is a set of deliberate bugs of memStore.
type bug uint32

const (
	bugGetExpired          bug = 1 << iota // Get and Exists return expired records
	bugSubMilliNoExpiry                    // a ttl under 1ms means no expiry
	bugNegativeTTLKeeps                    // Set with ttl < 0 stores without expiry
	bugAliasValue                          // Set keeps, and Get returns, the caller's slice
	bugTouchMissing                        // Touch reports found for a missing key
	bugScanDropsLast                       // Scan leaves out the last key of each page
	bugScanIndexCursor                     // the cursor is an index into the sorted keys
	bugScanIgnoresMatch                    // Scan returns every key whatever the pattern
	bugApplyLower                          // Apply accepts any version
	bugApplyEqual                          // Apply accepts an equal version
	bugApplyDropsExpired                   // Apply ignores records that already expired
	bugClockIgnoresApplied                 // local versions ignore applied ones
	bugDeleteNoTombstone                   // a local delete forgets the key
	bugLenCountsTombstones                 // Len counts tombstones
	bugTouchKeepsVersion                   // Touch does not stamp a new version
)

func newMemStore(bugs bug) *memStore {
	return &memStore{recs: make(map[string]sessiond.Record), bugs: bugs}
}

func (m *memStore) has(b bug) bool { return m.bugs&b != 0 }

// tick returns the version for a local write at now: past the wall clock
// and past every version issued or seen.
func (m *memStore) tick(now time.Time) sessiond.Version {
	if wall := stamp(now, 0); wall > m.clock {
		m.clock = wall
	} else {
		m.clock++
	}
	return sessiond.Version{Time: m.clock, Node: 1}
}

// live reports whether r is a record to return at now: not a tombstone and
// not expired. Expires is in whole milliseconds, so a record expires when
// the clock's millisecond reaches it.
func (m *memStore) live(r sessiond.Record, now time.Time) bool {
	if r.Deleted {
		return false
	}
	return r.Expires == 0 || now.UnixMilli() < r.Expires || m.has(bugGetExpired)
}

// lookup returns the live record for key.
func (m *memStore) lookup(key string, now time.Time) (sessiond.Record, bool) {
	r, ok := m.recs[key]
	if !ok || !m.live(r, now) {
		return sessiond.Record{}, false
	}
	return r, true
}

func (m *memStore) clone(b []byte) []byte {
	if m.has(bugAliasValue) {
		return b
	}
	return append([]byte{}, b...)
}

// put stores r, and drops the scan order, which may now miss r.Key.
func (m *memStore) put(r sessiond.Record) {
	m.recs[r.Key] = r
	m.order = nil
}

// remove deletes key locally: a tombstone stamped by the local clock.
func (m *memStore) remove(key string, now time.Time) {
	if m.has(bugDeleteNoTombstone) {
		delete(m.recs, key)
		m.order = nil
		return
	}
	m.put(sessiond.Record{Key: key, Deleted: true, Version: m.tick(now)})
}

// expires turns a ttl > 0 into an absolute expiry in unix ms. It truncates,
// so that TTL never reports more than the ttl given.
func (m *memStore) expires(now time.Time, ttl time.Duration) int64 {
	if m.has(bugSubMilliNoExpiry) && ttl < time.Millisecond {
		return 0
	}
	return now.Add(ttl).UnixMilli()
}

func (m *memStore) Get(key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.lookup(key, time.Now())
	if !ok {
		return nil, false, nil
	}
	return m.clone(r.Value), true, nil
}

func (m *memStore) Set(key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if ttl < 0 && !m.has(bugNegativeTTLKeeps) {
		if _, ok := m.lookup(key, now); ok {
			m.remove(key, now)
		}
		return nil
	}
	var exp int64
	if ttl > 0 {
		exp = m.expires(now, ttl)
	}
	m.put(sessiond.Record{Key: key, Value: m.clone(value), Expires: exp, Version: m.tick(now)})
	return nil
}

func (m *memStore) Touch(key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	r, ok := m.lookup(key, now)
	if !ok {
		return m.has(bugTouchMissing), nil
	}
	if ttl <= 0 {
		m.remove(key, now)
		return true, nil
	}
	r.Expires = m.expires(now, ttl)
	if !m.has(bugTouchKeepsVersion) {
		r.Version = m.tick(now)
	}
	m.put(r)
	return true, nil
}

func (m *memStore) TTL(key string) (time.Duration, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	r, ok := m.lookup(key, now)
	if !ok {
		return 0, false, nil
	}
	if r.Expires == 0 {
		return 0, true, nil
	}
	return time.UnixMilli(r.Expires).Sub(now), true, nil
}

func (m *memStore) Delete(key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if _, ok := m.lookup(key, now); !ok {
		return false, nil
	}
	m.remove(key, now)
	return true, nil
}

func (m *memStore) Exists(key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.lookup(key, time.Now())
	return ok, nil
}

func (m *memStore) Len() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	n := 0
	for _, r := range m.recs {
		if m.live(r, now) || r.Deleted && m.has(bugLenCountsTombstones) {
			n++
		}
	}
	return n, nil
}

func (m *memStore) Clear() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.recs)
	m.order = nil
	return nil
}

// scanHash places key in the scan order: its 64-bit FNV-1a hash, made odd
// so that it is never 0 and a cursor of 0 only ever means "start" or
// "done".
func scanHash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h | 1
}

// Scan walks the live keys in the order of their hash (then key), and the
// cursor is the hash to resume from. A key present for the whole scan has a
// fixed place in that order, so it is returned whatever else is added or
// removed. A page never ends between two keys of one hash, so that the
// cursor does not have to say where within a hash it stopped. As in Redis,
// count bounds the keys looked at, not those that match, so a page may be
// empty.
func (m *memStore) Scan(cursor uint64, match string, count int) ([]string, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if count <= 0 {
		count = 10
	}
	if m.has(bugScanIndexCursor) {
		return m.scanByIndex(cursor, match, count)
	}
	if m.order == nil {
		m.order = make([]scanEntry, 0, len(m.recs))
		for k := range m.recs {
			m.order = append(m.order, scanEntry{scanHash(k), k})
		}
		slices.SortFunc(m.order, func(a, b scanEntry) int {
			return cmp.Or(cmp.Compare(a.hash, b.hash), strings.Compare(a.key, b.key))
		})
	}
	from, _ := slices.BinarySearchFunc(m.order, cursor, func(e scanEntry, c uint64) int { return cmp.Compare(e.hash, c) })
	next := m.order[from:]
	n := min(count, len(next))
	for n < len(next) && next[n].hash == next[n-1].hash {
		n++
	}
	now := time.Now()
	var keys []string
	for _, e := range next[:n] {
		if m.live(m.recs[e.key], now) && m.matches(match, e.key) {
			keys = append(keys, e.key)
		}
	}
	if n == len(next) {
		return keys, 0, nil
	}
	if m.has(bugScanDropsLast) && len(keys) > 1 {
		keys = keys[:len(keys)-1]
	}
	return keys, next[n].hash, nil
}

// scanByIndex is bugScanIndexCursor's Scan: it looks right, and it is, as
// long as no key before the cursor is deleted during the scan.
func (m *memStore) scanByIndex(cursor uint64, match string, count int) ([]string, uint64, error) {
	now := time.Now()
	var all []string
	for k, r := range m.recs {
		if m.live(r, now) {
			all = append(all, k)
		}
	}
	slices.Sort(all)
	start := min(int(cursor), len(all))
	end := min(start+count, len(all))
	var keys []string
	for _, k := range all[start:end] {
		if m.matches(match, k) {
			keys = append(keys, k)
		}
	}
	if end == len(all) {
		return keys, 0, nil
	}
	return keys, uint64(end), nil
}

func (m *memStore) matches(pattern, key string) bool {
	return pattern == "" || pattern == "*" || m.has(bugScanIgnoresMatch) || globMatch(pattern, key)
}

func (m *memStore) Apply(rec sessiond.Record) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.has(bugApplyDropsExpired) && !rec.Deleted && rec.Expires != 0 && time.Now().UnixMilli() >= rec.Expires {
		return false, nil
	}
	if held, ok := m.recs[rec.Key]; ok && !m.has(bugApplyLower) {
		c := rec.Version.Compare(held.Version)
		if c < 0 || c == 0 && !m.has(bugApplyEqual) {
			return false, nil
		}
	}
	if rec.Version.Time > m.clock && !m.has(bugClockIgnoresApplied) {
		m.clock = rec.Version.Time
	}
	rec.Value = m.clone(rec.Value)
	if rec.Deleted {
		rec.Value, rec.Expires, rec.Flags = nil, 0, 0
	}
	m.put(rec)
	return true, nil
}

func (m *memStore) Load(key string) (sessiond.Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[key]
	if !ok || !r.Deleted && !m.live(r, time.Now()) {
		return sessiond.Record{}, false, nil
	}
	r.Value = m.clone(r.Value)
	return r, true, nil
}

// globMatch reports whether s matches the Redis glob pattern: * any run of
// bytes, ? one byte, [set] with ranges and ^ for "not", \ to escape. It
// backtracks, which is fine for the short patterns of the tests.
func globMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if globMatch(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		case '[':
			if s == "" {
				return false
			}
			end := strings.IndexByte(pattern[1:], ']')
			if end < 0 {
				return false
			}
			set := pattern[1 : 1+end]
			pattern = pattern[2+end:]
			not := strings.HasPrefix(set, "^")
			if not {
				set = set[1:]
			}
			in := false
			for i := 0; i < len(set); i++ {
				if i+2 < len(set) && set[i+1] == '-' {
					lo, hi := min(set[i], set[i+2]), max(set[i], set[i+2])
					in = in || lo <= s[0] && s[0] <= hi
					i += 2
					continue
				}
				in = in || set[i] == s[0]
			}
			if in == not {
				return false
			}
			s = s[1:]
		default:
			if pattern[0] == '\\' && len(pattern) > 1 {
				pattern = pattern[1:]
			}
			if s == "" || s[0] != pattern[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		}
	}
	return s == ""
}
