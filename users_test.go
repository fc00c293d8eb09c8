package sessiond

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/jsonpath"
	"github.com/sessiond/sessiond/internal/testkit"
)

// passportUser reads passport.user, as the server's default --user-field.
func passportUser(v []byte) ([]byte, bool) { return jsonpath.Lookup(v, passportPaths) }

var passportPaths, _ = jsonpath.Parse("passport.user")

// sessionOf returns an express-session value of about size bytes that
// belongs to user, or to nobody for "", or that is not JSON for "-".
func sessionOf(user string, size int) []byte {
	if user == "-" {
		return []byte(strings.Repeat("\x1e\xff", max(size/2, 1)))
	}
	b := []byte(`{"cookie":{"originalMaxAge":86400000,"httpOnly":true,"path":"/"},`)
	switch {
	case user == "":
	case user == "42":
		b = append(b, `"passport":{"user":42},`...)
	default:
		b = append(b, `"passport":{"user":"`+user+`"},`...)
	}
	b = append(b, `"pad":"`...)
	b = append(b, strings.Repeat("x", max(size-len(b)-2, 0))...)
	return append(b, `"}`...)
}

// modelSession is what the model expects a key to hold.
type modelSession struct {
	user string // "" or "-": no user
	exp  int64  // unix ms; 0: never
}

// checkUserIndex checks that the user index is exact: it holds one entry
// for each record that names a user, under that user, and nothing else.
// With all the shards locked, nothing changes meanwhile.
func checkUserIndex(t *testing.T, st *Store) {
	t.Helper()
	want := map[userEntry]int{}
	for i := range st.shards {
		st.shards[i].mu.Lock()
	}
	defer func() {
		for i := range st.shards {
			st.shards[i].mu.Unlock()
		}
	}()
	for s := range st.shards {
		sh := &st.shards[s]
		for _, e := range sh.idx.slots {
			if e == 0 {
				continue
			}
			v := sh.at(entryLoc(e))
			u, ok := v.user()
			if id, has := st.users.id(v.value()); v.tomb() && ok || !v.tomb() && has != ok || has && st.users.hashID(string(id)) != u {
				t.Fatalf("record %q: user field %v/%x, value's user %q/%v", v.key(), ok, u, id, has)
			}
			if ok {
				p, tag := st.users.part(u)
				want[userEntry{p, tag, st.users.ref(st.hash(string(v.key())))}]++
			}
		}
	}
	got := map[userEntry]int{}
	sessions := 0
	for i := range st.users.parts {
		p := &st.users.parts[i]
		p.mu.Lock()
		tags := map[uint32]bool{}
		for j, e := range p.table.slots {
			if e == 0 {
				continue
			}
			if j > 0 && p.table.slots[j-1] != 0 && entryTag(p.table.slots[j-1]) > entryTag(e) || j < p.table.home(entryTag(e)) {
				t.Fatalf("part %d: slot %d out of order", i, j)
			}
			got[userEntry{p, entryTag(e), entryLoc(e)}]++
			tags[entryTag(e)] = true
		}
		for tag, set := range p.big {
			if len(set) <= bigUser/2 || tags[tag] {
				t.Errorf("user tag %x has a set of %d, and entries in the table: %v", tag, len(set), tags[tag])
			}
			for r, n := range set {
				got[userEntry{p, tag, r}] += int(n)
			}
		}
		for tag := range tags {
			if _, n := p.run(tag); n > bigUser {
				t.Errorf("user tag %x has a run of %d", tag, n)
			}
		}
		if len(tags) != p.users {
			t.Errorf("part %d counts %d users in its table, holds %d", i, p.users, len(tags))
		}
		sessions += p.sessions
		p.mu.Unlock()
	}
	if !maps.Equal(got, want) {
		t.Fatalf("the user index holds %d entries, the records %d:\nindex   %v\nrecords %v", len(got), len(want), got, want)
	}
	if n := len(want); sessions != n {
		t.Fatalf("the index counts %d sessions, holds %d", sessions, n)
	}
}

// userEntry is an entry of the user index: a part, a user tag and a key
// reference.
type userEntry struct {
	p   *userPart
	tag uint32
	ref uint32
}

// checkListings compares what the store lists and counts for each user
// with want, the keys each user's live sessions have.
func checkListings(t *testing.T, st *Store, want map[string][]string) {
	t.Helper()
	for _, user := range []string{"alice", "bob", "carol", "42", "dave"} {
		list, err := st.UserSessions(user)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, s := range list {
			got = append(got, s.Key)
			if i > 0 && s.Written.After(list[i-1].Written) {
				t.Fatalf("%s: listed out of order: %v", user, list)
			}
		}
		slices.Sort(got)
		w := slices.Sorted(slices.Values(want[user]))
		if !slices.Equal(got, w) {
			t.Fatalf("%s's sessions: listed %q, want %q", user, got, w)
		}
		if n, err := st.CountUserSessions(user); err != nil || n != len(w) {
			t.Fatalf("%s's count: %d, %v; want %d", user, n, err, len(w))
		}
	}
}

// contents returns, for each user, the keys of the live sessions the
// store holds that name the user, read from the records themselves.
func contents(t *testing.T, st *Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for cursor := uint64(0); ; {
		next, err := st.Replica().Records(cursor, 100, func(rec *Record) {
			if rec.Deleted {
				return
			}
			if id, ok := passportUser(rec.Value); ok {
				out[string(id)] = append(out[string(id)], strings.Clone(rec.Key))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if cursor = next; cursor == 0 {
			return out
		}
	}
}

// TestUserIndexModel drives the store with random writes that give
// sessions to users, move them between users and to none, delete, expire,
// touch, update, apply replicated records, revoke and clear, and checks
// after each step that the user index is exact and that the listings
// match a model of what each user should have.
func TestUserIndexModel(t *testing.T) {
	for _, tomb := range []bool{false, true} {
		t.Run(fmt.Sprintf("tombstones=%v", tomb), func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			r := rand.New(rand.NewPCG(seed, 15))
			clk := new(testkit.FakeClock)
			clk.Set(time.UnixMilli(1_700_000_000_000))
			st := openTest(t, &Options{Shards: 4, Now: clk.Now, Tombstones: tomb, ReapInterval: time.Millisecond, UserID: passportUser})
			model := map[string]modelSession{}
			users := []string{"alice", "bob", "carol", "42", "", "-"}
			sizes := []int{40, 100, 300, 512, 520, 600, 2000, 70000}
			expect := func() map[string][]string {
				now := clk.Now().UnixMilli()
				out := map[string][]string{}
				for k, m := range model {
					if (m.exp == 0 || m.exp > now) && m.user != "" && m.user != "-" {
						out[m.user] = append(out[m.user], k)
					}
				}
				return out
			}
			for step := range 4000 {
				k := fmt.Sprintf("sess:%d", r.IntN(60))
				user := users[r.IntN(len(users))]
				now := clk.Now().UnixMilli()
				switch op := r.IntN(20); {
				case op < 8:
					ttl := time.Duration(0)
					if r.IntN(2) == 0 {
						ttl = time.Duration(50+r.IntN(2000)) * time.Millisecond
					}
					if err := st.Set(k, sessionOf(user, sizes[r.IntN(len(sizes))]), ttl); err != nil {
						t.Fatal(err)
					}
					model[k] = modelSession{user: user, exp: expiresAt(now, ttl)}
				case op < 10:
					if _, err := st.Delete(k); err != nil {
						t.Fatal(err)
					}
					delete(model, k)
				case op < 11:
					ttl := time.Duration(1+r.IntN(3000)) * time.Millisecond
					found, err := st.Touch(k, ttl)
					if err != nil {
						t.Fatal(err)
					}
					if m, ok := model[k]; ok && (m.exp == 0 || m.exp > now) {
						if !found {
							t.Fatalf("step %d: touch %s: not found", step, k)
						}
						m.exp = expiresAt(now, ttl)
						model[k] = m
					}
				case op < 13:
					_, err := st.Update(k, func(e *Entry) error {
						if e.Found() {
							e.Set(sessionOf(user, len(e.Value())))
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if m, ok := model[k]; ok && (m.exp == 0 || m.exp > now) {
						m.user = user
						model[k] = m
					}
				case op < 14:
					// A replicated write from a node whose clock is ahead.
					exp := int64(0)
					if r.IntN(2) == 0 {
						exp = now + int64(100+r.IntN(2000))
					}
					rec := Record{Key: k, Value: sessionOf(user, sizes[r.IntN(len(sizes))]), Expires: exp,
						Version: Version{Time: uint64(now+1000) << 16, Node: 7}}
					if r.IntN(4) == 0 {
						rec.Value, rec.Deleted, user = nil, true, ""
					}
					applied, err := st.Replica().Apply(rec)
					if err != nil {
						t.Fatal(err)
					}
					if applied {
						model[k] = modelSession{user: user, exp: exp}
						if rec.Deleted {
							delete(model, k)
						}
					}
				case op < 16:
					clk.Advance(time.Duration(r.IntN(500)) * time.Millisecond)
				case op < 17:
					var except []string
					if r.IntN(2) == 0 {
						except = append(except, k)
					}
					n, err := st.RevokeUser(user, except...)
					if err != nil {
						t.Fatal(err)
					}
					want := 0
					for key, m := range model {
						if m.user == user && user != "" && user != "-" && (m.exp == 0 || m.exp > now) && !slices.Contains(except, key) {
							delete(model, key)
							want++
						}
					}
					if n != want {
						t.Fatalf("step %d: revoked %d of %s's sessions, want %d", step, n, user, want)
					}
				case op < 18:
					if _, _, _, err := st.Lookup(nil, k); err != nil {
						t.Fatal(err)
					}
				default:
					if r.IntN(20) == 0 {
						if err := st.Clear(); err != nil {
							t.Fatal(err)
						}
						clear(model)
					}
				}
				checkUserIndex(t, st)
				checkListings(t, st, expect())
			}
		})
	}
}

// TestUserIndexEvictions fills a store with a memory cap and checks that
// the sessions evicted leave the index too: the listings follow the
// records the store holds.
func TestUserIndexEvictions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 15))
	st := openTest(t, &Options{Shards: 2, MaxMemory: 2 << 20, Policy: AllKeysLRU, UserID: passportUser})
	users := []string{"alice", "bob", "carol", "42", ""}
	for step := range 3000 {
		k := fmt.Sprintf("sess:%d", r.IntN(2000))
		if err := st.Set(k, sessionOf(users[r.IntN(len(users))], 200+r.IntN(3000)), 0); err != nil {
			t.Fatal(err)
		}
		if step%50 == 0 {
			checkUserIndex(t, st)
			checkListings(t, st, contents(t, st))
		}
	}
	if st.Stats().Evictions == 0 {
		t.Fatal("nothing was evicted: the test did not test evictions")
	}
	checkUserIndex(t, st)
	checkListings(t, st, contents(t, st))
}

// TestUserIndexRestart writes sessions to a store with a data directory,
// closes it and opens it again: the index is built again from the load.
func TestUserIndexRestart(t *testing.T) {
	dir := t.TempDir()
	o := &Options{Dir: dir, Fsync: FsyncAlways, UserID: passportUser}
	st, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		user := []string{"alice", "bob", "42", ""}[i%4]
		if err := st.Set(fmt.Sprintf("sess:%d", i), sessionOf(user, 100+i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.RevokeUser("bob", "sess:1"); err != nil || n != 74 {
		t.Fatalf("revoke bob: %d, %v; want 74", n, err)
	}
	want := contents(t, st)
	if len(want["alice"]) != 75 || len(want["bob"]) != 1 || len(want["42"]) != 75 {
		t.Fatalf("before the restart: %d, %d, %d sessions", len(want["alice"]), len(want["bob"]), len(want["42"]))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkUserIndex(t, st)
	checkListings(t, st, want)
}

// TestUserIndexOff checks that a store without Options.UserID says so.
func TestUserIndexOff(t *testing.T) {
	st := openTest(t, nil)
	if err := st.Set("sess:1", sessionOf("alice", 100), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserSessions("alice"); err != ErrNoUserIndex {
		t.Fatalf("UserSessions: %v, want ErrNoUserIndex", err)
	}
	if _, err := st.RevokeUser("alice"); err != ErrNoUserIndex {
		t.Fatalf("RevokeUser: %v, want ErrNoUserIndex", err)
	}
}

// TestUserSessionsDescribe checks what a listing says of each session.
func TestUserSessionsDescribe(t *testing.T) {
	clk := new(testkit.FakeClock)
	clk.Set(time.UnixMilli(1_700_000_000_000))
	st := openTest(t, &Options{Now: clk.Now, UserID: passportUser})
	a, b := sessionOf("alice", 300), sessionOf("alice", 500)
	if err := st.Set("sess:a", a, time.Hour); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := st.Set("sess:b", b, 0); err != nil {
		t.Fatal(err)
	}
	list, err := st.UserSessions("alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []UserSession{
		{Key: "sess:b", Written: clk.Now(), Size: len(b)},
		{Key: "sess:a", Written: clk.Now().Add(-time.Second), Expires: clk.Now().Add(time.Hour - time.Second), Size: len(a)},
	}
	if len(list) != 2 {
		t.Fatalf("listed %v", list)
	}
	for i := range want {
		g, w := list[i], want[i]
		if g.Key != w.Key || !g.Written.Equal(w.Written) || !g.Expires.Equal(w.Expires) || g.Size != w.Size {
			t.Errorf("session %d: %+v, want %+v", i, g, w)
		}
	}
}

// TestUserIndexStats checks the index's counts in Stats.
func TestUserIndexStats(t *testing.T) {
	st := openTest(t, &Options{UserID: passportUser})
	for i, user := range []string{"alice", "alice", "bob", "", "-"} {
		if err := st.Set(fmt.Sprint("sess:", i), sessionOf(user, 200), 0); err != nil {
			t.Fatal(err)
		}
	}
	if s := st.Stats(); s.Users != 2 || s.UserSessions != 3 {
		t.Fatalf("Stats: %d users, %d sessions; want 2 and 3", s.Users, s.UserSessions)
	}
}

// TestUserIndexBigUser takes one user past bigUser sessions, where its
// run of the table becomes a set, and back under bigUser/2, where it is in
// the table again,
// with deletes, moves to another user and expiries on the way: the index
// stays exact, and the user's form follows its size.
func TestUserIndexBigUser(t *testing.T) {
	clk := new(testkit.FakeClock)
	clk.Set(time.UnixMilli(1_700_000_000_000))
	st := openTest(t, &Options{Shards: 4, Now: clk.Now, ReapInterval: time.Millisecond, UserID: passportUser})
	form := func() string {
		p, tag := st.users.part(st.users.hashID("kiosk"))
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.big[tag] != nil {
			return "set"
		}
		if _, n := p.run(tag); n > 0 {
			return "table"
		}
		return "none"
	}
	model := map[string]bool{}
	r := rand.New(rand.NewPCG(2, 15))
	for round, target := range []int{300, 10, 200, 0, 70} {
		for step := 0; len(model) != target; step++ {
			k := fmt.Sprintf("sess:%d", r.IntN(400))
			switch {
			case len(model) < target:
				ttl := time.Duration(0)
				if r.IntN(4) == 0 {
					ttl = time.Hour
				}
				if err := st.Set(k, sessionOf("kiosk", 100+r.IntN(200)), ttl); err != nil {
					t.Fatal(err)
				}
				model[k] = true
			case r.IntN(2) == 0:
				if _, err := st.Delete(k); err != nil {
					t.Fatal(err)
				}
				delete(model, k)
			default:
				if model[k] {
					if err := st.Set(k, sessionOf("bob", 100), 0); err != nil {
						t.Fatal(err)
					}
					delete(model, k)
				}
			}
			if step%25 == 0 {
				checkUserIndex(t, st)
			}
		}
		checkUserIndex(t, st)
		if n, err := st.CountUserSessions("kiosk"); err != nil || n != target {
			t.Fatalf("round %d: %d sessions counted, %v; want %d", round, n, err, target)
		}
		want := map[int]string{300: "set", 200: "set", 70: "set", 10: "table", 0: "none"}[target]
		if got := form(); got != want {
			t.Fatalf("round %d: %d sessions kept as a %s, want a %s", round, target, got, want)
		}
	}
	// The expiring ones go by the reaper.
	clk.Advance(2 * time.Hour)
	testkit.Eventually(t, 10*time.Second, "the reaper takes the expired sessions out", func() bool {
		_, sessions := st.users.counts()
		n, _ := st.CountUserSessions("kiosk")
		return sessions == n+len(contents(t, st)["bob"])
	})
	checkUserIndex(t, st)
}
