package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/testkit"
	"github.com/sessiond/sessiond/server"
)

// Each bad input goes on its own connection. After each, a connection
// opened before it is still served, and what was stored is still there:
// other clients never notice.

func TestMemcacheBadInput(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	other := ts.mc(t)
	checkServesMC(t, other)
	other.do("set kept 9 0 5\r\nsaved\r\n", "STORED\r\n")
	for _, tt := range []struct {
		name, in, want string
		closed         bool
	}{
		{"block shorter than announced", "set a 0 0 5\r\nabc\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\n", true},
		{"block longer than announced", "set a 0 0 3\r\nabcd\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\n", true},
		{"block without its CR", "set a 0 0 1 noreply\r\nx\nget a\r\n", "", true},
		{"byte count of 2^40", "set a 0 0 1099511627776\r\n", "CLIENT_ERROR bad command line format\r\n", true},
		{"byte count past int64", "set a 0 0 99999999999999999999\r\nversion\r\n", "CLIENT_ERROR bad command line format\r\nVERSION 1.6.18\r\n", false},
		{"key of 251 bytes", "set " + strings.Repeat("k", 251) + " 0 0 1\r\nx\r\nget " + strings.Repeat("k", 251) + "\r\nversion\r\n",
			"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nVERSION 1.6.18\r\n", false},
		{"line over the limit", strings.Repeat("a", 100<<10), "CLIENT_ERROR line too long\r\n", true},
		{"get line over the limit", "get " + strings.Repeat("k ", 1<<20) + "\r\n", "CLIENT_ERROR line too long\r\n", true},
		{"many keys", "get " + strings.Repeat("k ", 1025) + "\r\nversion\r\n", "END\r\nVERSION 1.6.18\r\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.mc(t)
			c.writeString(tt.in)
			c.expectBytes(tt.want, tt.name)
			if tt.closed {
				if rest := string(c.expectClosed()); rest != "" {
					t.Errorf("then %q before the close", clip([]byte(rest)))
				}
			} else {
				checkServesMC(t, c)
			}
			checkServesMC(t, other)
			other.do("get kept\r\n", "VALUE kept 9 5\r\nsaved\r\nEND\r\n")
		})
	}
}

// Random bytes get error replies or a closed connection, nothing else.
func TestMemcacheGarbage(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, nil)
	other := ts.mc(t)
	prefixes := []string{"", "set a 0 0 10\r\n", "get ", "\x80\x01\x00\x00", "\r\n", "cas a 0 0 4 1\r\n"}
	for seed := range 24 {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			junk := make([]byte, 512+rng.IntN(8192))
			for i := range junk {
				junk[i] = byte(rng.UintN(256))
			}
			c := ts.mc(t)
			c.writeString(prefixes[seed%len(prefixes)] + string(junk))
			// Half-close: the server sees the end of its input and must
			// close, whatever state the garbage left its reader in.
			if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(strings.NewReader(string(c.expectClosed())))
			for sc.Scan() {
				l := sc.Text()
				if !strings.HasPrefix(l, "ERROR") && !strings.HasPrefix(l, "CLIENT_ERROR ") && !strings.HasPrefix(l, "SERVER_ERROR ") {
					t.Errorf("reply to garbage: %q", l)
				}
			}
			checkServesMC(t, other)
		})
	}
}

// A byte count past the value size is skipped as it arrives, however large:
// the server holds none of it, and the connection goes on.
//
// Not parallel: the heap it measures is the whole test binary's, and tests
// run alongside (a 2 MiB get line, say) made it fail now and then.
func TestMemcacheHugeBlockNotHeld(t *testing.T) {
	ts := startMC(t, server.Config{}, &sessiond.Options{MaxValueSize: 1 << 10})
	before := heapInuse()
	const conns, sent = 16, 1 << 20
	cs := make([]*mcClient, conns)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for i := range cs {
		cs[i] = ts.mc(t)
		cs[i].writeString("set big 0 0 2147483645\r\n") // the largest block memcached reads
		for range sent / len(chunk) {
			cs[i].writeString(string(chunk))
		}
	}
	// Once the server has read what they sent, it holds none of it.
	c := ts.mc(t)
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("the server has read the %d bytes sent", conns*sent), func() bool {
		n, _ := strconv.Atoi(c.stats("")["bytes_read"])
		return n >= conns*sent
	})
	if n := heapInuse() - before; n > conns*sent/4 {
		t.Errorf("heap grew by %d bytes for %d connections sending %d bytes of oversized blocks each", n, conns, sent)
	}
	c.do("set big 0 0 2000\r\n"+strings.Repeat("y", 2000)+"\r\nversion\r\n", "SERVER_ERROR object too large for cache\r\nVERSION 1.6.18\r\n")
}

// A value over the store's max value size gets memcached's error, and the
// connection goes on; a failed set deletes the old value, as in memcached.
func TestMemcacheValueTooLarge(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, &sessiond.Options{MaxValueSize: 1 << 10})
	c := ts.mc(t)
	big := strings.Repeat("v", 1<<10+1)
	runMC(t, c, []mcStep{
		{"set k 0 0 1024\r\n" + big[:1024] + "\r\n", "STORED\r\n"},
		{"add k 0 0 1025\r\n" + big + "\r\n", "SERVER_ERROR object too large for cache\r\n"},
		{"get k\r\n", "VALUE k 0 1024\r\n" + big[:1024] + "\r\nEND\r\n"},
		{"set k 0 0 1025\r\n" + big + "\r\n", "SERVER_ERROR object too large for cache\r\n"},
		{"get k\r\n", "END\r\n"},
		{"set k 0 0 1025 noreply\r\n" + big + "\r\nversion\r\n", "VERSION 1.6.18\r\n"},
		// append past the size cannot be stored.
		{"set k 0 0 1024\r\n" + big[:1024] + "\r\n", "STORED\r\n"},
		{"append k 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
	})
	if st := c.stats(""); st["store_too_large"] != "3" {
		t.Errorf("store_too_large = %s, want 3", st["store_too_large"])
	}
}

// At the memory cap, with noeviction, a write gets memcached's error.
func TestMemcacheOutOfMemory(t *testing.T) {
	t.Parallel()
	ts := startMC(t, server.Config{}, &sessiond.Options{MaxMemory: 1 << 20, Shards: 1})
	c := ts.mc(t)
	v := strings.Repeat("v", 8<<10)
	for i := range 1000 {
		l := c.line(fmt.Sprintf("set k%d 0 0 %d\r\n%s\r\n", i, len(v), v))
		if l == "SERVER_ERROR out of memory storing object" {
			c.do("get k0\r\nversion\r\n", "VALUE k0 0 8192\r\n"+v+"\r\nEND\r\nVERSION 1.6.18\r\n")
			return
		}
		if l != "STORED" {
			t.Fatalf("set %d: %q", i, l)
		}
	}
	t.Fatal("8 MB stored under a cap of 1 MB")
}
