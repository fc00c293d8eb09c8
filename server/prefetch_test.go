package server_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sessiond/sessiond/server"
)

// A pipelined batch, which the server prefetches as a whole before running
// it (conn.prefetch), gets the replies each command gets alone: commands
// with and without keys, unknown ones, a command's key written by the one
// before it, and a client not yet authenticated.
func TestPipelinedBatchPrefetched(t *testing.T) {
	t.Parallel()
	ts := start(t)
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
