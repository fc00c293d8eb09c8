package server_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// mcStep is a command and the exact reply memcached 1.6 gives it.
type mcStep struct{ cmd, want string }

func runMC(t *testing.T, c *mcClient, steps []mcStep) {
	t.Helper()
	for _, s := range steps {
		c.do(s.cmd, s.want)
	}
}

// gets returns key's cas unique.
func (c *mcClient) gets(key string) uint64 {
	c.t.Helper()
	l := c.line("gets " + key + "\r\n")
	f := strings.Fields(l)
	if len(f) != 5 || f[0] != "VALUE" {
		c.t.Fatalf("gets %s: %q", key, l)
	}
	n, _ := strconv.Atoi(f[3])
	if _, err := c.readN(n + 2 + len("END\r\n")); err != nil {
		c.t.Fatal(err)
	}
	cas, err := strconv.ParseUint(f[4], 10, 64)
	if err != nil {
		c.t.Fatalf("gets %s: cas %q", key, f[4])
	}
	return cas
}

// ttl returns the time key has left by the store's clock, or -1 if it has
// no expiry.
func (ts *mcServer) ttl(t *testing.T, clock *testkit.FakeClock, key string) time.Duration {
	t.Helper()
	_, it, found, err := ts.st.Lookup(nil, key)
	switch {
	case err != nil || !found:
		t.Fatalf("Lookup(%q): found %v, %v", key, found, err)
	case it.Expires().IsZero():
		return -1
	}
	return it.Expires().Sub(clock.Now().Truncate(time.Millisecond))
}

func (ts *mcServer) expectTTL(t *testing.T, clock *testkit.FakeClock, key string, want time.Duration) {
	t.Helper()
	if got := ts.ttl(t, clock, key); got != want {
		t.Errorf("%s expires in %v, want %v", key, got, want)
	}
}

func TestMemcacheGetSet(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	runMC(t, c, []mcStep{
		{"get a\r\n", "END\r\n"},
		{"set a 0 0 3\r\nabc\r\n", "STORED\r\n"},
		{"get a\r\n", "VALUE a 0 3\r\nabc\r\nEND\r\n"},
		// Flags come back as they were given, whatever they are.
		{"set a 4294967295 0 2\r\nhi\r\n", "STORED\r\n"},
		{"get a nokey a\r\n", "VALUE a 4294967295 2\r\nhi\r\nVALUE a 4294967295 2\r\nhi\r\nEND\r\n"},
		{"set j 2 0 9\r\n{\"a\":\"b\"}\r\n", "STORED\r\n"},
		{"get j\r\n", "VALUE j 2 9\r\n{\"a\":\"b\"}\r\nEND\r\n"},
		// Values are bytes: CRLF and NUL inside them are data.
		{"set b 0 0 6\r\na\r\n\x00\xff\n\r\n", "STORED\r\n"},
		{"get b\r\n", "VALUE b 0 6\r\na\r\n\x00\xff\n\r\nEND\r\n"},
		{"set e 0 0 0\r\n\r\n", "STORED\r\n"},
		{"get e\r\n", "VALUE e 0 0\r\n\r\nEND\r\n"},
		// noreply: nothing back, and the next reply is the next command's.
		{"set n 1 0 1 noreply\r\nx\r\nget n\r\n", "VALUE n 1 1\r\nx\r\nEND\r\n"},
		{"set a 0 0 1 NOREPLY\r\nx\r\n", "STORED\r\n"},
		{"set " + strings.Repeat("k", 250) + " 0 0 1\r\nx\r\n", "STORED\r\n"},
		{"get " + strings.Repeat("k", 250) + "\r\n", "VALUE " + strings.Repeat("k", 250) + " 0 1\r\nx\r\nEND\r\n"},
	})
	// gets: a cas unique that changes with every write.
	c1 := c.gets("a")
	c.do("set a 0 0 1\r\ny\r\n", "STORED\r\n")
	if c2 := c.gets("a"); c2 == c1 || c1 == 0 {
		t.Errorf("cas unique %d, then %d after a write: want a new non-zero one", c1, c2)
	}
	// The same over the Unix socket.
	u := dialMC(t, "unix", ts.mcUnix)
	u.do("get a\r\n", "VALUE a 0 1\r\ny\r\nEND\r\n")
}

func TestMemcacheAddReplaceAppendPrepend(t *testing.T) {
	t.Parallel()
	clock := new(testkit.FakeClock)
	ts := startMC(t, server.Config{}, &sessiond.Options{Now: clock.Now})
	c := ts.mc(t)
	runMC(t, c, []mcStep{
		{"add p 1 100 1\r\nx\r\n", "STORED\r\n"},
		{"add p 1 0 1\r\ny\r\n", "NOT_STORED\r\n"},
		{"add p 1 0 1 noreply\r\ny\r\n", ""},
		{"replace q 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
		{"replace p 2 100 1\r\nz\r\n", "STORED\r\n"},
		// append and prepend keep the key's flags and expiry.
		{"append p 9 0 2\r\nAB\r\n", "STORED\r\n"},
		{"prepend p 9 0 2\r\nCD\r\n", "STORED\r\n"},
		{"prepend p 9 0 1 noreply\r\n-\r\n", ""},
		{"get p\r\n", "VALUE p 2 6\r\n-CDzAB\r\nEND\r\n"},
		{"append nokey 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
		{"prepend nokey 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
	})
	ts.expectTTL(t, clock, "p", 100*time.Second)
	clock.Advance(101 * time.Second)
	c.do("get p\r\n", "END\r\n")
}

func TestMemcacheCas(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	c.do("cas nokey 0 0 1 5\r\nx\r\n", "NOT_FOUND\r\n")
	c.do("set c 3 0 1\r\nx\r\n", "STORED\r\n")
	cas := c.gets("c")
	c.do(fmt.Sprintf("cas c 4 0 1 %d\r\ny\r\n", cas+1), "EXISTS\r\n")
	c.do(fmt.Sprintf("cas c 4 0 1 %d\r\ny\r\n", cas), "STORED\r\n")
	c.do("get c\r\n", "VALUE c 4 1\r\ny\r\nEND\r\n")
	// The unique of the last write only.
	c.do(fmt.Sprintf("cas c 4 0 1 %d\r\nz\r\n", cas), "EXISTS\r\n")
	cas = c.gets("c")
	// A write by another client in between, over RESP.
	ts.dial(t).expect("+OK\r\n", "SET", "c", "resp")
	c.do(fmt.Sprintf("cas c 0 0 1 %d\r\nz\r\n", cas), "EXISTS\r\n")
	cas = c.gets("c")
	c.do(fmt.Sprintf("cas c 0 0 1 %d noreply\r\nz\r\n", cas), "")
	c.do("get c\r\n", "VALUE c 0 1\r\nz\r\nEND\r\n")
	c.do("delete c\r\n", "DELETED\r\n")
	c.do(fmt.Sprintf("cas c 0 0 1 %d\r\nz\r\n", cas), "NOT_FOUND\r\n")
	runMC(t, c, []mcStep{
		{"cas c 0 0 1\r\nz\r\n", "ERROR\r\nERROR\r\n"}, // no unique: the block is read as a command, as in memcached
		{"cas c 0 0 1 abc\r\nz\r\n", "CLIENT_ERROR bad command line format\r\n"},
		{"cas c 0 0 1 -1\r\nz\r\n", "CLIENT_ERROR bad command line format\r\n"},
	})
}

func TestMemcacheIncrDecr(t *testing.T) {
	t.Parallel()
	clock := new(testkit.FakeClock)
	ts := startMC(t, server.Config{}, &sessiond.Options{Now: clock.Now})
	c := ts.mc(t)
	runMC(t, c, []mcStep{
		{"incr nokey 1\r\n", "NOT_FOUND\r\n"},
		{"decr nokey 1\r\n", "NOT_FOUND\r\n"},
		{"set n 5 100 2\r\n10\r\n", "STORED\r\n"},
		{"incr n 5\r\n", "15\r\n"},
		{"decr n 100\r\n", "0\r\n"}, // decr stops at 0
		{"incr n 18446744073709551615\r\n", "18446744073709551615\r\n"},
		{"incr n 2\r\n", "1\r\n"}, // incr wraps at 2^64
		{"incr n 1 noreply\r\n", ""},
		{"get n\r\n", "VALUE n 5 1\r\n2\r\nEND\r\n"}, // flags kept
		{"decr n 1 noreply\r\nget n\r\n", "VALUE n 5 1\r\n1\r\nEND\r\n"},
		{"incr n -1\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
		{"incr n abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
		{"incr n 18446744073709551616\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
		{"incr n\r\n", "ERROR\r\n"},
		{"incr n 1 2\r\n", "2\r\n"}, // memcached ignores a fourth token that is not noreply
		{"incr " + strings.Repeat("k", 251) + " 1\r\n", "CLIENT_ERROR bad command line format\r\n"},
		// What memcached's strtoull takes as a number.
		{"set s 0 0 3\r\n 12\r\nincr s 1\r\n", "STORED\r\n13\r\n"},
		{"set s 0 0 4\r\n12 x\r\nincr s 1\r\n", "STORED\r\n13\r\n"},
		{"set s 0 0 2\r\n+5\r\nincr s +1\r\n", "STORED\r\n6\r\n"},
		{"set s 0 0 3\r\nabc\r\nincr s 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{"decr s 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{"incr s 1 noreply\r\n", ""},
		{"set s 0 0 0\r\n\r\nincr s 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{"set s 0 0 20\r\n18446744073709551616\r\nincr s 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
	})
	// incr keeps the expiry.
	r := ts.dial(t)
	ts.expectTTL(t, clock, "n", 100*time.Second)
	// A number written over RESP counts up over memcache.
	r.expect("+OK\r\n", "SET", "r", "41")
	c.do("incr r 1\r\n", "42\r\n")
	r.expect("$2\r\n42\r\n", "GET", "r")
}

func TestMemcacheTouchAndGat(t *testing.T) {
	t.Parallel()
	clock := new(testkit.FakeClock)
	ts := startMC(t, server.Config{}, &sessiond.Options{Now: clock.Now})
	c := ts.mc(t)
	runMC(t, c, []mcStep{
		{"touch nokey 10\r\n", "NOT_FOUND\r\n"},
		{"set t 3 10 1\r\nx\r\n", "STORED\r\n"},
		{"touch t 100\r\n", "TOUCHED\r\n"},
		{"touch t 100 noreply\r\n", ""},
		{"touch t abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
		{"touch t\r\n", "ERROR\r\n"},
	})
	ts.expectTTL(t, clock, "t", 100*time.Second)
	c.do("touch t 0\r\n", "TOUCHED\r\n")
	ts.expectTTL(t, clock, "t", -1)

	runMC(t, c, []mcStep{
		{"set g 3 0 2\r\nhi\r\n", "STORED\r\n"},
		{"gat 200 g nokey\r\n", "VALUE g 3 2\r\nhi\r\nEND\r\n"},
		{"gat 100\r\n", "END\r\n"},
		{"gat\r\n", "ERROR\r\n"},
		{"gat abc g\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
	})
	ts.expectTTL(t, clock, "g", 200*time.Second)
	// gats gives the unique after the touch: a cas with it succeeds.
	l := c.line("gats 300 g\r\n")
	f := strings.Fields(l)
	if len(f) != 5 || f[0] != "VALUE" || f[2] != "3" {
		t.Fatalf("gats: %q", l)
	}
	c.expectBytes("hi\r\nEND\r\n", "gats data")
	ts.expectTTL(t, clock, "g", 300*time.Second)
	c.do("cas g 3 0 2 "+f[4]+"\r\nho\r\n", "STORED\r\n")
	// A negative exptime returns the value and expires it.
	c.do("gat -1 g\r\n", "VALUE g 3 2\r\nho\r\nEND\r\n")
	c.do("get g\r\n", "END\r\n")
	// touch -1 expires too.
	c.do("touch t -1\r\n", "TOUCHED\r\n")
	c.do("get t\r\n", "END\r\n")
}

// memcached's exptime: 0 none, up to 30 days relative, more an absolute
// unix time, negative already expired.
func TestMemcacheExptime(t *testing.T) {
	t.Parallel()
	clock := new(testkit.FakeClock)
	ts := startMC(t, server.Config{}, &sessiond.Options{Now: clock.Now})
	c := ts.mc(t)
	r := ts.dial(t)
	const month = 30 * 24 * 3600
	now := clock.Now().Unix()
	runMC(t, c, []mcStep{
		{"set none 0 0 1\r\nx\r\n", "STORED\r\n"},
		{"set rel 0 60 1\r\nx\r\n", "STORED\r\n"},
		{fmt.Sprintf("set month 0 %d 1\r\nx\r\n", month), "STORED\r\n"},
		{fmt.Sprintf("set abs 0 %d 1\r\nx\r\n", now+2*month), "STORED\r\n"},
		{fmt.Sprintf("set past 0 %d 1\r\nx\r\n", now-10), "STORED\r\n"},
		{"set neg 0 -1 1\r\nx\r\n", "STORED\r\n"},
		{"get past neg\r\n", "END\r\n"},
		{"add neg 0 0 1\r\ny\r\n", "STORED\r\n"}, // it was never there
	})
	ts.expectTTL(t, clock, "none", -1)
	ts.expectTTL(t, clock, "rel", 60*time.Second)
	ts.expectTTL(t, clock, "month", month*time.Second)
	ts.expectTTL(t, clock, "abs", 2*month*time.Second)
	r.expect(":0\r\n", "EXISTS", "past")
	clock.Advance(61 * time.Second)
	c.do("get rel none\r\n", "VALUE none 0 1\r\nx\r\nEND\r\n")
	clock.Advance(2 * month * time.Second)
	c.do("get month abs none\r\n", "VALUE none 0 1\r\nx\r\nEND\r\n")
}

func TestMemcacheDelete(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	runMC(t, c, []mcStep{
		{"delete d\r\n", "NOT_FOUND\r\n"},
		{"set d 0 0 1\r\nx\r\n", "STORED\r\n"},
		{"delete d\r\n", "DELETED\r\n"},
		{"get d\r\n", "END\r\n"},
		{"set d 0 0 1\r\nx\r\ndelete d noreply\r\nget d\r\n", "STORED\r\nEND\r\n"},
		{"delete d 0\r\n", "NOT_FOUND\r\n"},
		{"delete d 0 noreply\r\n", ""},
		{"delete d 5\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
		{"delete d x noreply\r\n", ""},
		{"delete\r\n", "ERROR\r\n"},
		{"delete a b c d\r\n", "ERROR\r\n"},
	})
}

func TestMemcacheFlushAll(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	r := ts.dial(t)
	r.expect("+OK\r\n", "SET", "resp", "x")
	runMC(t, c, []mcStep{
		{"set a 0 0 1\r\nx\r\n", "STORED\r\n"},
		{"flush_all\r\n", "OK\r\n"},
		{"get a resp\r\n", "END\r\n"},
		{"flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
		{"flush_all 0 noreply x\r\n", "ERROR\r\n"},
		{"set a 0 0 1\r\nx\r\nflush_all noreply\r\nget a\r\n", "STORED\r\nEND\r\n"},
		{"flush_all -1\r\n", "OK\r\n"},
	})
	// With a delay: everything is there until then, gone after.
	c.do("set a 0 0 1\r\nx\r\n", "STORED\r\n")
	c.do("flush_all 1\r\n", "OK\r\n")
	c.do("get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n")
	c.do("set b 0 0 1\r\nx\r\n", "STORED\r\n")
	testkit.Eventually(t, 5*time.Second, "flush_all 1: a is gone", func() bool { ok, _ := ts.st.Exists("a"); return !ok })
	c.do("get b\r\n", "END\r\n")
	// A later flush_all replaces the pending one.
	c.do("flush_all 1\r\n", "OK\r\n")
	c.do("flush_all 0\r\n", "OK\r\n")
	c.do("set c 0 0 1\r\nx\r\n", "STORED\r\n")
	time.Sleep(1500 * time.Millisecond)
	c.do("get c\r\n", "VALUE c 0 1\r\nx\r\nEND\r\n")
	// A delay as a unix time far off.
	c.do("flush_all 99999999999\r\nflush_all 9223372036854775807\r\nget c\r\n", "OK\r\nOK\r\nVALUE c 0 1\r\nx\r\nEND\r\n")
}

func TestMemcacheVersionVerbosityQuit(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	runMC(t, c, []mcStep{
		{"version\r\n", "VERSION 1.6.18\r\n"},
		{"version x\r\n", "VERSION 1.6.18\r\n"},
		{"verbosity 1\r\n", "OK\r\n"},
		{"verbosity 1 noreply\r\n", ""},
		{"verbosity abc\r\n", "CLIENT_ERROR bad command line format\r\n"},
		{"verbosity\r\n", "ERROR\r\n"},
		{"verbosity 1 2 3\r\n", "ERROR\r\n"},
		{"GET a\r\nfoo\r\n\r\n", "ERROR\r\nERROR\r\nERROR\r\n"},
	})
	// quit: the replies before it go out, then the connection closes.
	c.writeString("set q 0 0 1\r\nx\r\nget q\r\nquit\r\nget q\r\n")
	if got := string(c.expectClosed()); got != "STORED\r\nVALUE q 0 1\r\nx\r\nEND\r\n" {
		t.Errorf("before quit: %q", got)
	}
}

// A pipelined batch is answered in order.
func TestMemcachePipeline(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	var in, want strings.Builder
	for i := range 200 {
		v := strings.Repeat("v", i)
		fmt.Fprintf(&in, "set k%d %d 0 %d\r\n%s\r\nget k%d\r\n", i, i, len(v), v, i)
		fmt.Fprintf(&want, "STORED\r\nVALUE k%d %d %d\r\n%s\r\nEND\r\n", i, i, len(v), v)
	}
	c.do(in.String(), want.String())
}
