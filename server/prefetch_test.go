package server_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/prefetch"
	"github.com/sessiond/sessiond/server"
)

// fillPastPrefetch fills st until it is large enough for the server to
// prefetch (prefetch.Helps), with keys no test here uses.
func fillPastPrefetch(t *testing.T, st *sessiond.Store) {
	t.Helper()
	val := make([]byte, 4<<10)
	for i := 0; !prefetch.Helps(st); i++ {
		if i == 1<<14 {
			t.Fatalf("%d bytes in use and no prefetching", st.Stats().UsedMemory)
		}
		if err := st.Set(fmt.Sprint("filler:", i), val, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
}

// A pipelined batch, which the server prefetches as a whole before running
// it (conn.prefetch), gets the replies each command gets alone: commands
// with and without keys, unknown ones, a command's key written by the one
// before it, and a client not yet authenticated.
func TestPipelinedBatchPrefetched(t *testing.T) {
	t.Parallel()
	ts := start(t)
	fillPastPrefetch(t, ts.st)
	c := ts.dial(t)
	for _, k := range []string{"k1", "k3", "k4"} {
		c.expect(ok, "SET", k, "v-"+k)
	}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"GET", "k1"}, bulk("v-k1")},
		{[]string{"SET", "k2", "v2"}, ok},
		{[]string{"GET", "k2"}, bulk("v2")},
		{[]string{"GET", "missing"}, null},
		{[]string{"FOO", "k1"}, "-ERR unknown command 'FOO', with args beginning with: 'k1' \r\n"},
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"ECHO", "k1"}, bulk("k1")},
		{[]string{"EXPIRE", "k3", "100"}, num(1)},
		{[]string{"TTL", "k3"}, num(100)},
		{[]string{"MGET", "k1", "k2", "nope"}, "*3\r\n" + bulk("v-k1") + bulk("v2") + null},
		{[]string{"GETDEL", "k4"}, bulk("v-k4")},
		{[]string{"GET", "k4"}, null},
		{[]string{"DEL", "k1", "k2"}, num(2)},
		{[]string{"GET", "k1"}, null},
	}
	var batch bytes.Buffer
	for _, st := range steps {
		batch.Write(encode(st.args...))
	}
	c.write(batch.Bytes())
	for _, st := range steps {
		if got := c.read().Raw; got != st.want {
			t.Errorf("%q: got %q, want %q", st.args, got, st.want)
		}
	}
}

// A client that has not authenticated gets NOAUTH for every command of a
// batch, and after AUTH in the same batch, the replies.
func TestPipelinedBatchBeforeAuth(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{RequirePass: "secret"}, nil)
	fillPastPrefetch(t, ts.st)
	c := ts.dial(t)
	var batch bytes.Buffer
	for _, args := range [][]string{{"GET", "a"}, {"SET", "a", "1"}, {"AUTH", "secret"}, {"SET", "a", "1"}, {"GET", "a"}, {"GET", "b"}} {
		batch.Write(encode(args...))
	}
	c.write(batch.Bytes())
	noauth := "-NOAUTH Authentication required.\r\n"
	for i, want := range []string{noauth, noauth, ok, ok, bulk("1"), null} {
		if got := c.read().Raw; got != want {
			t.Errorf("reply %d: got %q, want %q", i, got, want)
		}
	}
}

// MGET of more keys than one prefetch group answers every key in order.
func TestMGetManyKeys(t *testing.T) {
	t.Parallel()
	ts := start(t)
	fillPastPrefetch(t, ts.st)
	c := ts.dial(t)
	args := []string{"MGET"}
	want := fmt.Sprintf("*%d\r\n", 40)
	for i := range 40 {
		k := fmt.Sprintf("key%d", i)
		args = append(args, k)
		if i%3 == 0 {
			want += null
			continue
		}
		c.expect(ok, "SET", k, "v"+k)
		want += bulk("v" + k)
	}
	c.expect(want, args...)
}

// A pipelined memcached batch, prefetched (mcConn.prefetch), gets the
// replies its commands get alone, and a get of more keys than a prefetch
// group answers them all.
func TestMemcacheBatchPrefetched(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	fillPastPrefetch(t, ts.st)
	c := ts.mc(t)
	c.do("set a 1 0 2\r\nva\r\nset b 2 0 2\r\nvb\r\n", "STORED\r\nSTORED\r\n")
	var keys, many string
	for i := range 40 {
		k := fmt.Sprint("m", i)
		keys += " " + k
		if i%2 == 0 {
			c.do("set "+k+" 0 0 1\r\nx\r\n", "STORED\r\n")
			many += "VALUE " + k + " 0 1\r\nx\r\n"
		}
	}
	c.do("get a\r\n"+
		"get nope b\r\n"+
		"set a 3 0 1\r\n7\r\n"+
		"get a\r\n"+
		"touch b 100\r\n"+
		"delete b\r\n"+
		"get b\r\n"+
		"incr a 1\r\n"+
		"version\r\n"+
		"get"+keys+"\r\n",
		"VALUE a 1 2\r\nva\r\nEND\r\n"+
			"VALUE b 2 2\r\nvb\r\nEND\r\n"+
			"STORED\r\n"+
			"VALUE a 3 1\r\n7\r\nEND\r\n"+
			"TOUCHED\r\n"+
			"DELETED\r\n"+
			"END\r\n"+
			"8\r\n"+
			"VERSION 1.6.18\r\n"+
			many+"END\r\n")
}
