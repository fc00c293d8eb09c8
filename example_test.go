package sessiond_test

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sessiond/sessiond"
)

func Example() {
	st, err := sessiond.Open(nil)
	if err != nil {
		panic(err)
	}
	defer st.Close()

	st.Set("sess:abc", []byte(`{"user":42}`), 24*time.Hour)
	value, found, _ := st.Get("sess:abc")
	fmt.Println(string(value), found)

	st.Touch("sess:abc", time.Hour) // a new TTL, the value untouched
	st.Delete("sess:abc")
	_, found, _ = st.Get("sess:abc")
	fmt.Println(found)
	// Output:
	// {"user":42} true
	// false
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

func ExampleReplica_Apply() {
	st, _ := sessiond.Open(&sessiond.Options{Tombstones: true})
	defer st.Close()

	newer := sessiond.Record{Key: "sess:1", Value: []byte("v2"), Version: sessiond.Version{Time: 2 << 16, Node: 1}}
	older := sessiond.Record{Key: "sess:1", Value: []byte("v1"), Version: sessiond.Version{Time: 1 << 16, Node: 2}}
	// Whatever order replicas deliver them in, the higher version wins.
	fmt.Println(st.Replica().Apply(newer))
	fmt.Println(st.Replica().Apply(older))
	v, _, _ := st.Get("sess:1")
	fmt.Println(string(v))
	// Output:
	// true <nil>
	// false <nil>
	// v2
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
