package sessiond_test

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond"
)

// A web application's sessions: created at login, read on every request,
// destroyed at logout.
func Example() {
	st, err := sessiond.Open(nil)
	if err != nil {
		panic(err)
	}
	defer st.Close()

	st.Set("sess:abc", []byte(`{"user":42}`), 24*time.Hour)
	value, found, _ := st.Get("sess:abc")
	fmt.Println(string(value), found)

	st.Touch("sess:abc", time.Hour) // a new time to live, the value untouched
	st.Delete("sess:abc")
	_, found, _ = st.Get("sess:abc")
	fmt.Println(found)
	// Output:
	// {"user":42} true
	// false
}

// Sessions expire by the store's clock, Options.Now, which a test moves
// instead of sleeping. Touching a session on each request keeps an active
// user logged in.
func Example_expiry() {
	var now atomic.Int64 // unix ms
	now.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	later := func(d time.Duration) { now.Add(d.Milliseconds()) }
	st, _ := sessiond.Open(&sessiond.Options{Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	defer st.Close()

	st.Set("sess:abc", []byte("v"), 30*time.Minute)
	ttl, _, _ := st.TTL("sess:abc")
	fmt.Println(ttl)

	later(20 * time.Minute)
	st.Touch("sess:abc", 30*time.Minute) // a request: 30 minutes from now
	later(20 * time.Minute)
	_, found, _ := st.Get("sess:abc")
	fmt.Println(found)

	later(time.Hour) // no request for an hour
	_, found, _ = st.Get("sess:abc")
	fmt.Println(found)
	// Output:
	// 30m0s
	// true
	// false
}

// Update reads and changes a session in one step: requests of one user
// that count its page views at the same time lose none.
func ExampleStore_Update() {
	st, _ := sessiond.Open(nil)
	defer st.Close()
	st.Set("sess:abc", []byte(`{"views":0}`), time.Hour)

	errLoggedOut := errors.New("logged out")
	view := func(e *sessiond.Entry) error {
		if !e.Found() {
			return errLoggedOut
		}
		var s struct {
			Views int `json:"views"`
		}
		if err := json.Unmarshal(e.Value(), &s); err != nil {
			return err
		}
		s.Views++
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		e.Set(b) // the session keeps its expiry
		return nil
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { st.Update("sess:abc", view) })
	}
	wg.Wait()
	v, _, _ := st.Get("sess:abc")
	fmt.Println(string(v))
	_, err := st.Update("sess:gone", view)
	fmt.Println(err)
	// Output:
	// {"views":10}
	// logged out
}

// A new session never replaces a session that holds its id.
func ExampleStore_Write() {
	st, _ := sessiond.Open(nil)
	defer st.Close()
	create := sessiond.WriteOptions{Cond: sessiond.IfAbsent, TTL: time.Hour}
	_, err := st.Write("sess:abc", []byte(`{"user":42}`), create)
	fmt.Println(err)
	_, err = st.Write("sess:abc", []byte(`{"user":7}`), create)
	fmt.Println(errors.Is(err, sessiond.ErrNotStored))
	// Output:
	// <nil>
	// true
}

func ExampleStore_Scan() {
	st, _ := sessiond.Open(nil)
	defer st.Close()
	st.Set("sess:1", []byte("a"), 0)
	st.Set("sess:2", []byte("b"), 0)
	st.Set("other", []byte("c"), 0)

	n := 0
	var cursor uint64
	for {
		keys, next, err := st.Scan(cursor, "sess:*", 100)
		if err != nil {
			panic(err)
		}
		n += len(keys)
		if next == 0 {
			break
		}
		cursor = next
	}
	fmt.Println(n, "sessions")
	// Output: 2 sessions
}

// A store with a data directory keeps its sessions across restarts.
func Example_persistence() {
	dir, err := os.MkdirTemp("", "sessiond-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	st, err := sessiond.Open(&sessiond.Options{Dir: dir, Fsync: sessiond.FsyncAlways})
	if err != nil {
		panic(err)
	}
	st.Set("sess:abc", []byte(`{"user":42}`), 24*time.Hour) // on disk when it returns
	st.Close()

	st, err = sessiond.Open(&sessiond.Options{Dir: dir}) // after a restart
	if err != nil {
		panic(err)
	}
	defer st.Close()
	value, found, _ := st.Get("sess:abc")
	fmt.Println(string(value), found)
	// Output:
	// {"user":42} true
}

func ExampleOptions_maxMemory() {
	st, _ := sessiond.Open(&sessiond.Options{MaxMemory: 16 << 20, Policy: sessiond.NoEviction})
	defer st.Close()
	var err error
	for i := 0; err == nil; i++ {
		err = st.Set(fmt.Sprint("sess:", i), make([]byte, 512), time.Hour)
	}
	fmt.Println(errors.Is(err, sessiond.ErrOutOfMemory))
	// Output: true
}

// Replicas merge records by version: whatever order they arrive in, every
// store ends with the highest version of each key.
func ExampleReplica_Apply() {
	st, _ := sessiond.Open(&sessiond.Options{Tombstones: true})
	defer st.Close()

	newer := sessiond.Record{Key: "sess:1", Value: []byte("v2"), Version: sessiond.Version{Time: 2 << 16, Node: 1}}
	older := sessiond.Record{Key: "sess:1", Value: []byte("v1"), Version: sessiond.Version{Time: 1 << 16, Node: 2}}
	fmt.Println(st.Replica().Apply(newer))
	fmt.Println(st.Replica().Apply(older))
	v, _, _ := st.Get("sess:1")
	fmt.Println(string(v))
	// Output:
	// true <nil>
	// false <nil>
	// v2
}

// Log out everywhere: the store files each session under its user, as
// Options.UserID reads it from the value. Here sessions are gob-encoded,
// as scs and gorilla/sessions store them, with the user under "user_id".
func ExampleOptions_userID() {
	encode := func(values map[string]any) []byte {
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(values); err != nil {
			panic(err)
		}
		return b.Bytes()
	}
	userID := func(value []byte) ([]byte, bool) {
		var values map[string]any
		if gob.NewDecoder(bytes.NewReader(value)).Decode(&values) != nil {
			return nil, false
		}
		id, ok := values["user_id"].(string)
		return []byte(id), ok && id != ""
	}
	st, _ := sessiond.Open(&sessiond.Options{UserID: userID})
	defer st.Close()

	st.Set("session:laptop", encode(map[string]any{"user_id": "alice"}), time.Hour)
	st.Set("session:phone", encode(map[string]any{"user_id": "alice", "cart": "2 mugs"}), time.Hour)
	st.Set("session:bob", encode(map[string]any{"user_id": "bob"}), time.Hour)
	st.Set("session:anonymous", encode(map[string]any{"theme": "dark"}), time.Hour)

	n, _ := st.CountUserSessions("alice")
	fmt.Println("alice has", n, "sessions")
	// Log alice out everywhere but on her phone.
	n, _ = st.RevokeUser("alice", "session:phone")
	fmt.Println("revoked", n)
	list, _ := st.UserSessions("alice")
	for _, s := range list {
		fmt.Println(s.Key, s.Expires.Sub(s.Written).Round(time.Minute))
	}
	_, found, _ := st.Get("session:laptop")
	fmt.Println("laptop still logged in:", found)
	// Output:
	// alice has 2 sessions
	// revoked 1
	// session:phone 1h0m0s
	// laptop still logged in: false
}
