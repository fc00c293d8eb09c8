package server_test

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/server"
)

// copyDir copies the data files as a kill -9 would leave them (page cache == file).
func copyDir(t *testing.T, from string) string {
	to := t.TempDir()
	ents, _ := os.ReadDir(from)
	for _, e := range ents {
		if e.Name() == "LOCK" || e.IsDir() {
			continue
		}
		in, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := os.Create(filepath.Join(to, e.Name()))
		io.Copy(out, in)
		in.Close()
		out.Close()
	}
	return to
}

func TestPersistGatCommitsEveryKey(t *testing.T) {
	lost := 0
	for round := 0; round < 5; round++ {
		dir := t.TempDir()
		opts := &sessiond.Options{Dir: dir, DeferWrites: true}
		ts := startServer(t, server.Config{MemcacheAddr: "127.0.0.1:0"}, opts)
		mc := dialMC(t, "tcp", mcAddr(t, ts))
		big := strings.Repeat("x", 100<<10)
		mc.do("set big 0 0 "+ritoa(len(big))+"\r\n"+big+"\r\n", "STORED\r\n")
		mc.do("set small 0 0 1\r\nv\r\n", "STORED\r\n")
		time.Sleep(1100 * time.Millisecond) // let the syncer run; then race it
		// gat gives both keys a TTL; big's value fills the writer and is flushed
		// (Commit) before small's touch is made.
		want := "VALUE big 0 " + ritoa(len(big)) + "\r\n" + big + "\r\nVALUE small 0 1\r\nv\r\nEND\r\n"
		mc.do("gat 100000 big small\r\n", want)
		crash := copyDir(t, dir) // the client has its reply: "kill -9" now
		st, err := sessiond.Open(&sessiond.Options{Dir: crash})
		if err != nil {
			t.Fatal(err)
		}
		_, e1, _, _ := st.Lookup(nil, "big")
		_, e2, _, _ := st.Lookup(nil, "small")
		t.Logf("round %d: after crash: big expiry %v, small expiry %v", round, e1.Expires(), e2.Expires())
		if e2.Expires().IsZero() {
			lost++
		}
		st.Close()
	}
	if lost > 0 {
		t.Errorf("%d/5 rounds: gat acknowledged small's new TTL, which was not in the log", lost)
	}
}

func ritoa(n int) string { return strconv.Itoa(n) }
