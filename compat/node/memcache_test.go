package node

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// testMemcacheStore: connect-memcached's length, memcached's `stats items`,
// counts the sessions, and its clear, `flush_all`, ends every one of them.
//
// memcached itself keeps counting flushed items until it reclaims their
// memory, so against it (COMPAT_TARGET=memcached) the count is only checked
// to include the new sessions; sessiond's is exact.
func (f *fixture) testMemcacheStore(t *testing.T) {
	exact := f.srv.Addr != "" // sessiond, not memcached
	f.storeOp(t, f.a, "clear")
	if n := f.items(t, f.b); exact && n != 0 {
		t.Fatalf("length after clear counts %d items, want 0", n)
	}
	var keys []string
	var browsers []*testkit.Browser
	for i, app := range []string{f.a, f.b} {
		br := testkit.NewBrowser()
		s := visit(t, br, "POST", fmt.Sprintf("%s/set?k=n&v=%d", app, i))
		keys = append(keys, f.st.prefix+s.ID)
		browsers = append(browsers, br)
	}
	if n := f.items(t, f.a); n != 2 && (exact || n < 2) {
		t.Errorf("length counts %d items, want 2", n)
	}
	f.storeOp(t, f.b, "clear")
	for _, key := range keys {
		if ttl := f.pttl(t, key); ttl != -2 {
			t.Errorf("after clear: TTL of %s = %d, want -2 (no such key)", key, ttl)
		}
	}
	for _, br := range browsers {
		if got := visit(t, br, "GET", f.a+"/get"); len(got.Data) != 0 {
			t.Errorf("/get after clear read %+v, want nothing", got.Data)
		}
	}
}

// items returns the number of items connect-memcached's length reports: the
// `number` of every slab class in the `stats items` answer of each server.
func (f *fixture) items(t *testing.T, app string) int {
	t.Helper()
	var servers []map[string]any
	decode(t, f.storeOp(t, app, "length"), &servers)
	total := 0
	for _, srv := range servers {
		for slab, stats := range srv {
			m, ok := stats.(map[string]any)
			if slab == "server" || !ok {
				continue
			}
			n, err := strconv.Atoi(fmt.Sprint(m["number"]))
			if err != nil {
				t.Fatalf("stats items: slab %s has number %v", slab, m["number"])
			}
			total += n
		}
	}
	return total
}

// metaTTL asks memcached for key's TTL with its meta get (`mg KEY t`):
// milliseconds to the second, -1 for no expiry, -2 for no key.
func (f *fixture) metaTTL(t *testing.T, key string) int64 {
	t.Helper()
	line := f.mc(t, "mg "+key+" t")
	switch {
	case line == "EN":
		return -2
	case strings.HasPrefix(line, "HD t"):
		n, err := strconv.ParseInt(line[len("HD t"):], 10, 64)
		if err == nil && n == -1 {
			return -1
		}
		if err == nil {
			return n * 1000
		}
	}
	t.Fatalf("mg %s t: unexpected answer %q", key, line)
	return 0
}

// mc sends one command line to the server's memcached listener over a new
// connection and returns the first line of the answer.
func (f *fixture) mc(t *testing.T, command string) string {
	t.Helper()
	network, addr := "tcp", f.srv.MemcacheAddr
	if f.st.unix {
		network, addr = "unix", f.srv.MemcacheUnix
	}
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, command+"\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return strings.TrimSuffix(line, "\r\n")
}
