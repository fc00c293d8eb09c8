package server_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// TestPersistRestartOverBothProtocols writes over RESP and memcached,
// stops, and serves the same directory again: every session is back with
// its value, flags and remaining TTL; deleted and expired ones stay gone.
func TestPersistRestartOverBothProtocols(t *testing.T) {
	dir := t.TempDir()
	opts := &sessiond.Options{Dir: dir}
	cfg := server.Config{MemcacheAddr: "127.0.0.1:0"}
	ts := startServer(t, cfg, opts)
	c := ts.dial(t)
	c.expect("+OK\r\n", "SET", "sess:a", "alice", "EX", "1000")
	c.expect("+OK\r\n", "SET", "sess:b", "bob")
	c.expect("+OK\r\n", "SET", "sess:gone", "x")
	c.expect(":1\r\n", "DEL", "sess:gone")
	c.expect("+OK\r\n", "SET", "sess:short", "x", "PX", "50")
	dialMC(t, "tcp", mcAddr(t, ts)).do("set mc:1 42 1000 5\r\nhello\r\n", "STORED\r\n")
	ts.shutdown(t, 5*time.Second)
	if err := ts.st.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond) // sess:short expires meanwhile

	ts = startServer(t, cfg, opts)
	c = ts.dial(t)
	c.expect("$5\r\nalice\r\n", "GET", "sess:a")
	c.expect("$3\r\nbob\r\n", "GET", "sess:b")
	c.expect("$-1\r\n", "GET", "sess:gone")
	c.expect("$-1\r\n", "GET", "sess:short")
	if ttl, _ := strconv.Atoi(strings.TrimSpace(strings.Trim(c.do("TTL", "sess:a").Raw, ":"))); ttl < 990 || ttl > 1000 {
		t.Errorf("TTL after restart = %d, want about 1000", ttl)
	}
	c.expect(":-1\r\n", "TTL", "sess:b")
	c.expect(":3\r\n", "DBSIZE")
	dialMC(t, "tcp", mcAddr(t, ts)).do("get mc:1\r\n", "VALUE mc:1 42 5\r\nhello\r\nEND\r\n")
}

func mcAddr(t *testing.T, ts *testServer) string {
	t.Helper()
	for _, a := range ts.srv.MemcacheAddrs() {
		if a.Network() == "tcp" {
			return a.String()
		}
	}
	t.Fatal("no memcached listener")
	return ""
}

func TestPersistCommands(t *testing.T) {
	dir := t.TempDir()
	stopped := make(chan struct{}, 1)
	ts := startServer(t, server.Config{Shutdown: func() { stopped <- struct{}{} }},
		&sessiond.Options{Dir: dir, Fsync: sessiond.FsyncAlways})
	c := ts.dial(t)
	if got := infoField(t, c, "aof_enabled"); got != "1" {
		t.Errorf("aof_enabled = %s", got)
	}
	before, _ := strconv.ParseInt(strings.Trim(c.do("LASTSAVE").Raw, ":\r\n"), 10, 64)
	for i := range 10 {
		c.expect("+OK\r\n", "SET", fmt.Sprint("k", i), "v")
	}
	if got := infoField(t, c, "rdb_changes_since_last_save"); got != "10" {
		t.Errorf("rdb_changes_since_last_save = %s, want 10", got)
	}
	if got := infoField(t, c, "sessiond_fsyncs"); got == "0" {
		t.Error("sessiond_fsyncs = 0 under appendfsync always")
	}
	time.Sleep(1100 * time.Millisecond) // LASTSAVE counts seconds
	c.expect("+OK\r\n", "SAVE")
	after, _ := strconv.ParseInt(strings.Trim(c.do("LASTSAVE").Raw, ":\r\n"), 10, 64)
	if after <= before {
		t.Errorf("LASTSAVE %d after SAVE, %d before", after, before)
	}
	for _, f := range [][2]string{{"rdb_changes_since_last_save", "0"}, {"rdb_saves", "1"}, {"rdb_last_bgsave_status", "ok"}, {"aof_last_write_status", "ok"}} {
		if got := infoField(t, c, f[0]); got != f[1] {
			t.Errorf("after SAVE: %s = %s, want %s", f[0], got, f[1])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshot.000002")); err != nil {
		t.Errorf("no snapshot after SAVE: %v", err)
	}
	c.expect("+Background saving started\r\n", "BGSAVE")
	if !testkit.Poll(5*time.Second, func() bool { return infoField(t, c, "rdb_saves") == "2" }) {
		t.Error("BGSAVE did not finish")
	}
	c.expect("+Background append only file rewriting started\r\n", "BGREWRITEAOF")
	if !testkit.Poll(5*time.Second, func() bool { return infoField(t, c, "rdb_saves") == "3" }) {
		t.Error("BGREWRITEAOF did not finish")
	}
	c.expect("*6\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n$3\r\ndir\r\n$"+strconv.Itoa(len(dir))+"\r\n"+dir+"\r\n",
		"CONFIG", "GET", "dir", "append*")
	c.expect("-ERR syntax error\r\n", "SHUTDOWN", "SAVE", "NOSAVE")
	c.send("SHUTDOWN", "SAVE")
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("SHUTDOWN SAVE did not call Config.Shutdown")
	}
	c.expectClosed()
	if got := ts.st.Persistence().Saves; got != 4 {
		t.Errorf("SHUTDOWN SAVE: %d snapshots, want 4", got)
	}
}

func TestPersistCommandsWithoutDir(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	c.expect("-ERR no data directory: sessions are kept in memory only, and there is nothing to save\r\n", "SAVE")
	c.expect("-ERR no data directory: sessions are kept in memory only, and there is nothing to save\r\n", "BGSAVE")
	c.expect("-ERR SHUTDOWN is not available: this server is embedded in a program that decides when it stops\r\n", "SHUTDOWN")
	if got := infoField(t, c, "aof_enabled"); got != "0" {
		t.Errorf("aof_enabled = %s", got)
	}
	c.expect("*4\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n$10\r\nappendonly\r\n$2\r\nno\r\n", "CONFIG", "GET", "append*")
}

// TestPersistDiskFull serves a store whose directory is a small tmpfs made
// by the test: once it is full, writes get MISCONF and reads go on; once
// space is freed, writes resume by themselves, and every write that was
// acknowledged is there after a restart.
func TestPersistDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot mount a tmpfs to fill (the store's own tests inject the same errors)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	data := filepath.Join(dir, "data")
	opts := &sessiond.Options{Dir: data, UserID: passportUser(t)}
	ts := startServer(t, server.Config{}, opts)
	c := ts.dial(t)
	c.expect("+OK\r\n", "SET", "sess:u", `{"passport":{"user":"u"}}`)
	// Most of the space goes to a file the test frees later.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 9<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	val := strings.Repeat("v", 4000)
	acked := 0
	var refused string
	for i := 0; i < 10000 && refused == ""; i++ {
		r := c.do("SET", fmt.Sprint("k", i), val)
		if r.Raw == "+OK\r\n" {
			acked++
		} else {
			refused = r.Raw
		}
	}
	if !strings.HasPrefix(refused, "-MISCONF ") {
		t.Fatalf("after %d writes on a full disk: %q; want a MISCONF error", acked, refused)
	}
	c.expect("$4000\r\n"+val+"\r\n", "GET", "k0")
	// Every write command is refused, as in Redis, even one that would
	// change nothing; reads go on.
	for _, cmd := range [][]string{
		{"DEL", "k0"},
		{"GETDEL", "missing"},
		{"EXPIRE", "missing", "100"},
		{"EXPIRE", "k0", "100", "XX"},
		{"PERSIST", "k0"},
		{"SET", "k0", "x", "NX", "GET"},
		{"GETEX", "k0", "EX", "100"},
		{"SESSION.REVOKE", "u"},
		{"SESSION.REVOKE", "u", "EXCEPT", "sess:u"},
		{"SESSION.REVOKE", "nobody"},
	} {
		if r := c.do(cmd...); !strings.HasPrefix(r.Raw, "-MISCONF ") {
			t.Errorf("%v on a full disk: %q; want a MISCONF error", cmd, r.Raw)
		}
	}
	c.expect(":-1\r\n", "TTL", "k0")
	c.expect(":1\r\n", "EXISTS", "k0")
	c.expect(":1\r\n", "SESSION.COUNT", "u")
	if got := infoField(t, c, "aof_last_write_status"); got != "err" {
		t.Errorf("aof_last_write_status = %s on a full disk", got)
	}
	os.Remove(filler)
	testkit.Eventually(t, 5*time.Second, "writes resume once the disk has room", func() bool { return c.do("SET", "after", "x").Raw == "+OK\r\n" })
	ts.shutdown(t, 5*time.Second)
	ts.st.Close()
	ts = startServer(t, server.Config{}, opts)
	c = ts.dial(t)
	for i := range acked {
		if r := c.do("EXISTS", fmt.Sprint("k", i)); r.Raw != ":1\r\n" {
			t.Fatalf("acknowledged write k%d lost after the restart", i)
		}
	}
	c.expect("$1\r\nx\r\n", "GET", "after")
}

// TestPersistAlwaysOneFlushPerBatch: under appendfsync always, a pipelined
// batch of writes waits for one flush before its replies, not one per
// write (the store defers its flushes to the server).
func TestPersistAlwaysOneFlushPerBatch(t *testing.T) {
	opts := &sessiond.Options{Dir: t.TempDir(), Fsync: sessiond.FsyncAlways, DeferWrites: true}
	ts := startServer(t, server.Config{}, opts)
	c := ts.dial(t)
	c.expect("+OK\r\n", "SET", "warm", "v")
	before := ts.st.Persistence().Fsyncs
	var batch []byte
	for i := range 32 {
		batch = append(batch, encode("SET", fmt.Sprint("k", i), "v")...)
	}
	c.write(batch)
	for range 32 {
		c.expectRead("+OK\r\n", "SET in a batch")
	}
	if n := ts.st.Persistence().Fsyncs - before; n < 1 || n > 3 {
		t.Errorf("a batch of 32 SETs took %d flushes, want 1 (a few if the batch came in pieces)", n)
	}
	c.expect("$1\r\nv\r\n", "GET", "k31")
	if n := ts.st.Persistence().Fsyncs - before; n > 3 {
		t.Errorf("a GET after the batch flushed again (%d flushes in all)", n)
	}
	// Across a restart, all of them.
	ts.shutdown(t, 5*time.Second)
	ts.st.Close()
	ts = startServer(t, server.Config{}, opts)
	ts.dial(t).expect(":33\r\n", "DBSIZE")
}
