package server_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// Each bad input goes on its own connection, and after each, a connection
// opened before it is still served correctly: other clients never notice.

func TestGarbageInput(t *testing.T) {
	t.Parallel()
	ts := start(t)
	prefixes := []string{"", "*", "*3\r\n$", "*2\r\n$3\r\nGET\r\n", "$", "\r\n", "*-", "*1\r\n$-5\r\n"}
	for seed := range 24 {
		prefix := prefixes[seed%len(prefixes)]
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 42))
			junk := make([]byte, 512+rng.IntN(8192))
			for i := range junk {
				junk[i] = byte(rng.UintN(256))
			}
			other := ts.dial(t)
			checkServes(t, other)
			c := ts.dial(t)
			c.write(append([]byte(prefix), junk...))
			// Half-close: the server sees the end of its input and must
			// close, whatever state the garbage left its reader in.
			if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got := c.expectClosed()
			// Whatever came back is a sequence of error replies.
			br := bytesReader(got)
			for n := 0; ; n++ {
				var raw strings.Builder
				v, err := readValue(br, &raw)
				if err != nil {
					if br.Buffered() > 0 || raw.Len() > 0 {
						t.Errorf("reply %d to garbage is not a whole RESP reply: %q (%v)", n, clip([]byte(raw.String())), err)
					}
					break
				}
				if _, ok := v.(Err); !ok {
					t.Errorf("reply %d to garbage: got %q, want an error reply", n, raw.String())
				}
			}
			checkServes(t, other)
		})
	}
}

func TestBulkLengthTooLarge(t *testing.T) {
	t.Parallel()
	ts := start(t)
	other := ts.dial(t)
	for _, in := range []string{
		"*2\r\n$3\r\nGET\r\n$1099511627776\r\n",        // 2^40
		"*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n", // past int64
		"*2\r\n$3\r\nGET\r\n$-2\r\n",
		"*2\r\n$3\r\nGET\r\n$abc\r\n",
	} {
		c := ts.dial(t)
		c.writeString(in)
		c.expectRead("-ERR Protocol error: invalid bulk length\r\n", fmt.Sprintf("%q", in))
		c.expectClosed()
		checkServes(t, other)
	}
	c := ts.dial(t)
	c.writeString("*abc\r\n")
	c.expectRead("-ERR Protocol error: invalid multibulk length\r\n", "*abc")
	c.expectClosed()
	c = ts.dial(t)
	c.writeString("*1\r\n+PING\r\n")
	c.expectRead("-ERR Protocol error: expected '$', got '+'\r\n", "*1 +PING")
	c.expectClosed()
	checkServes(t, other)
}

// An inline line longer than the 64 KiB limit gets Redis's error and is
// closed.
func TestInlineTooBig(t *testing.T) {
	t.Parallel()
	ts := start(t)
	other := ts.dial(t)
	c := ts.dial(t)
	c.write(bytes.Repeat([]byte("a"), 100<<10))
	c.expectRead("-ERR Protocol error: too big inline request\r\n", "100 KB inline line without a newline")
	c.expectClosed()
	checkServes(t, other)
}

// The same for a multibulk length header that never ends.
func TestLengthHeaderTooBig(t *testing.T) {
	t.Parallel()
	ts := start(t)
	other := ts.dial(t)
	c := ts.dial(t)
	c.write(append([]byte("*1"), bytes.Repeat([]byte("1"), 100<<10)...))
	if r := c.read(); !strings.HasPrefix(r.Raw, "-ERR Protocol error: ") {
		t.Errorf("100 KB multibulk header: got %q, want a protocol error", r.Raw)
	}
	c.expectClosed()
	checkServes(t, other)
}

// Redis takes inline commands up to 64 KiB. A line that fills the reader's
// first 16 KiB buffer must make it grow, not end the connection.
func TestInlineCommandLongerThan16KB(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	for _, n := range []int{16<<10 - 20, 20000, 60000} {
		v := strings.Repeat("x", n)
		c.writeString("SET inline:long " + v + "\r\n")
		c.expectRead("+OK\r\n", fmt.Sprintf("inline SET of a %d-byte value", n))
		c.expect(fmt.Sprintf("$%d\r\n%s\r\n", n, v), "GET", "inline:long")
	}
}

// A value larger than MaxBulk, sent whole as clients send it, gets the
// protocol error reply rather than a connection reset: the client must
// learn why it was cut off.
func TestOversizedBulk(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{MaxBulk: 1000}, nil)
	other := ts.dial(t)
	c := ts.dial(t)
	c.send("SET", "k", strings.Repeat("x", 200<<10))
	c.expectRead("-ERR Protocol error: invalid bulk length\r\n", "SET of a 200 KB value with MaxBulk 1000")
	c.expectClosed()
	checkServes(t, other)
}

// A header that announces a million arguments and sends three must not make
// the server allocate for a million. This test measures the heap of the
// whole process, so it does not run in parallel with others.
func TestHugeArrayHeaderDoesNotPreallocate(t *testing.T) {
	ts := start(t)
	other := ts.dial(t)
	checkServes(t, other)
	before := heapInuse()
	const conns = 4
	var cs []*client
	for range conns {
		c := ts.dial(t)
		c.writeString("*1000000\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
		cs = append(cs, c)
	}
	// The server has read the headers once it has accepted the
	// connections and had a moment; nothing it says can tell us more.
	testkit.Eventually(t, 5*time.Second, fmt.Sprintf("connected_clients reaches %d", conns+1), func() bool { return connectedClients(t, other) == conns+1 })
	time.Sleep(300 * time.Millisecond)
	during := heapInuse()
	if growth := during - before; growth > 4<<20 {
		t.Errorf("heap grew by %d MB for %d connections that announced a million arguments: the server allocates for the announced count", growth>>20, conns)
	}
	for _, c := range cs {
		c.nc.Close()
	}
	if !testkit.Poll(5*time.Second, func() bool { return connectedClients(t, other) == 1 }) {
		t.Fatalf("closed connections were not released: connected_clients = %d", connectedClients(t, other))
	}
	after := heapInuse()
	if growth := after - before; growth > 2<<20 {
		t.Errorf("heap is %d MB above where it started after the connections closed", growth>>20)
	}
	t.Logf("heap in use: before %d KB, during %d KB, after %d KB", before>>10, during>>10, after>>10)
	checkServes(t, other)
}

// A client that pipelines requests for large values and never reads the
// replies is closed after the write timeout, holds bounded memory while it
// lasts, and does not slow anyone else. Not parallel: it measures the heap.
func TestClientThatNeverReads(t *testing.T) {
	ts := startServer(t, server.Config{WriteTimeout: time.Second}, nil)
	other := ts.dial(t)
	value := strings.Repeat("x", 100<<10)
	other.expect("+OK\r\n", "SET", "big", value)
	before := heapInuse()

	slow := ts.dial(t)
	slow.timeout = 15 * time.Second
	var batch bytes.Buffer
	for range 20000 {
		batch.Write(encode("GET", "big"))
	}
	wrote := make(chan error, 1)
	go func() { wrote <- slow.writeErr(batch.Bytes()) }()

	start := time.Now()
	peak := int64(0)
	testkit.Eventually(t, 8*time.Second, "a client that never reads is closed (write timeout 1s)", func() bool {
		peak = max(peak, heapInuse())
		checkServes(t, other)
		return connectedClients(t, other) == 1
	})
	t.Logf("closed after %v; heap in use: before %d KB, peak %d KB", time.Since(start).Round(time.Millisecond), before>>10, peak>>10)
	if growth := peak - before; growth > 50<<20 {
		t.Errorf("heap grew by %d MB for one client that does not read: output is not bounded", growth>>20)
	}
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Errorf("the slow client's write did not end after the server closed it")
	}
	checkServes(t, other)
}

// dialErr is dialNet for goroutines: it returns the error instead of
// failing the test.
func dialErr(network, addr string) (*client, error) {
	nc, err := net.DialTimeout(network, addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	return &client{nc: nc, br: bufioReader(nc)}, nil
}

func pingErr(c *client) error {
	if err := c.writeErr([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	r, err := c.readErr()
	if err != nil {
		return err
	}
	if r.Raw != "+PONG\r\n" {
		return fmt.Errorf("PING: got %q", r.Raw)
	}
	return nil
}

// raiseFileLimit makes room for n open files, or skips the test.
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot read RLIMIT_NOFILE: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	want := lim
	want.Cur = min(max(n, 8192), lim.Max)
	if want.Cur < n {
		want.Max, want.Cur = n, n // root may raise the hard limit
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil || want.Cur < n {
		t.Skipf("needs %d open files; RLIMIT_NOFILE is %d (hard %d) and cannot be raised: %v", n, lim.Cur, lim.Max, err)
	}
}

func TestTwoThousandConnections(t *testing.T) {
	const n = 2000
	// Both ends of every connection are in this process.
	raiseFileLimit(t, 2*n+300)
	ts := start(t)
	other := ts.dial(t)
	conns := make([]*client, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialErr("tcp", ts.tcp)
			if err != nil {
				errs <- fmt.Errorf("dial %d: %w", i, err)
				return
			}
			conns[i] = c
			if err := pingErr(c); err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.nc.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if got := connectedClients(t, other); got != n+1 {
		t.Errorf("connected_clients = %d, want %d", got, n+1)
	}
	// All open at once, all still answer.
	var failed sync.Map
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pingErr(c); err != nil {
				failed.Store(i, err)
			}
		}()
	}
	wg.Wait()
	failed.Range(func(k, v any) bool {
		t.Errorf("connection %d, second PING: %v", k, v)
		return true
	})
	checkServes(t, other)
}

func TestMaxClients(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{MaxClients: 100}, nil)
	var conns []*client
	for range 100 {
		c := ts.dial(t)
		c.expect("+PONG\r\n", "PING")
		conns = append(conns, c)
	}
	extra := ts.dial(t)
	extra.expectRead("-ERR max number of clients reached\r\n", "connection 101")
	extra.expectClosed()
	for _, c := range conns {
		c.expect("+PONG\r\n", "PING")
	}
	checkServes(t, conns[0])
	if got := infoField(t, conns[0], "rejected_connections"); got != "1" {
		t.Errorf("rejected_connections = %s, want 1", got)
	}
	// A slot freed is a slot for the next client.
	conns[99].nc.Close()
	ok := testkit.Poll(5*time.Second, func() bool {
		c, err := dialErr("tcp", ts.tcp)
		if err != nil {
			return false
		}
		defer c.nc.Close()
		return pingErr(c) == nil
	})
	if !ok {
		t.Errorf("after one of 100 clients left, a new client was still refused")
	}
}

// The store refuses values over its MaxValueSize; the key keeps its value.
func TestValueOverMaxValueSize(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{}, &sessiond.Options{MaxValueSize: 1000})
	c := ts.dial(t)
	c.expect("+OK\r\n", "SET", "k", "orig")
	big := strings.Repeat("x", 2000)
	for _, args := range [][]string{
		{"SET", "k", big},
		{"SET", "k", big, "EX", "100"},
		{"SETEX", "k", "100", big},
		{"PSETEX", "k", "100000", big},
		{"SET", "k", big, "GET"},
		{"MSET", "k", big},
		{"SETNX", "new", big},
	} {
		r := c.do(args...)
		if e, ok := r.V.(Err); !ok || !strings.HasPrefix(string(e), "ERR ") || !strings.Contains(string(e), "too large") {
			t.Errorf("%s: got %q, want an -ERR ... too large reply", fmtArgs(args), r.Raw)
		}
	}
	c.expect("$4\r\norig\r\n", "GET", "k")
	c.expect(":-1\r\n", "TTL", "k")
	c.expect(":0\r\n", "EXISTS", "new")
	ok := strings.Repeat("y", 1000)
	c.expect("+OK\r\n", "SET", "k", ok)
	c.expect("$1000\r\n"+ok+"\r\n", "GET", "k")
}

func TestArgAndBulkLimits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{MaxArgs: 5, MaxBulk: 100}, nil)
	other := ts.dial(t)

	c := ts.dial(t)
	c.expect(":0\r\n", "DEL", "a", "b", "c", "d") // 5 arguments: fine
	c.send("DEL", "a", "b", "c", "d", "e")
	c.expectRead("-ERR Protocol error: invalid multibulk length\r\n", "6 arguments with MaxArgs 5")
	c.expectClosed()

	c = ts.dial(t)
	c.writeString("DEL a b c d e\r\n")
	c.expectRead("-ERR Protocol error: invalid multibulk length\r\n", "6 inline arguments with MaxArgs 5")
	c.expectClosed()

	c = ts.dial(t)
	v := strings.Repeat("v", 100)
	c.expect("+OK\r\n", "SET", "k", v)
	c.send("SET", "k", v+"v")
	c.expectRead("-ERR Protocol error: invalid bulk length\r\n", "101-byte argument with MaxBulk 100")
	c.expectClosed()

	checkServes(t, other)
	other.expect("$100\r\n"+v+"\r\n", "GET", "k")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	// The active connection must get its turn within the timeout: a full
	// run under the race detector once held it up past 200ms, so the
	// timeout is a second.
	ts := startServer(t, server.Config{Timeout: time.Second}, nil)
	idle := ts.dial(t)
	idle.expect("+PONG\r\n", "PING")
	active := ts.dial(t)
	began := time.Now()
	for time.Since(began) < 2500*time.Millisecond {
		active.expect("+PONG\r\n", "PING")
		time.Sleep(50 * time.Millisecond)
	}
	idle.timeout = 2 * time.Second
	if got := idle.expectClosed(); len(got) != 0 {
		t.Errorf("idle connection got %q before it was closed", got)
	}
	active.expect("+PONG\r\n", "PING")
	// A connection that never sent anything is idle too.
	fresh := ts.dial(t)
	fresh.timeout = 4 * time.Second
	start := time.Now()
	fresh.expectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a connection idle from the start was closed after %v, want about 1s", d)
	}
}
