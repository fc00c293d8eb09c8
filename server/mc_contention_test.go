package server_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/server"
)

// contendedStore starts a memcache server whose store clock, whenever it is
// read by the connection goroutine inside one of the commands named in
// funcs, first has another goroutine write key (as another client would)
// and waits for that write when it can finish. So the first read-modify-write
// attempts of those commands lose their race (about maxContended/2 of them):
// the worst case of a key many clients write at once, made deterministic. On a 2-core machine 32
// connections pipelining "incr ctr 1" hit it now and then without help.
func contendedStore(t *testing.T, key, value string, funcs ...string) *mcServer {
	var st atomic.Pointer[sessiond.Store]
	var mu sync.Mutex
	var prev chan struct{}
	n := 0
	now := func() time.Time {
		s := st.Load()
		if s == nil {
			return time.Now()
		}
		buf := make([]byte, 8<<10)
		stack := string(buf[:runtime.Stack(buf, false)])
		hit := false
		for _, f := range funcs {
			hit = hit || strings.Contains(stack, f)
		}
		if !hit {
			return time.Now()
		}
		mu.Lock()
		defer mu.Unlock()
		if n++; n > maxContended {
			return time.Now()
		}
		if prev != nil {
			select {
			case <-prev:
			case <-time.After(time.Second):
			}
		}
		done := make(chan struct{})
		prev = done
		go func() {
			defer close(done)
			s.Write(key, []byte(value), sessiond.WriteOptions{})
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Millisecond): // the caller holds the key's lock
		}
		return time.Now()
	}
	ts := startMC(t, server.Config{}, &sessiond.Options{Now: now})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if n == 0 {
			t.Errorf("no other write came into %v: renamed?", funcs)
		}
	})
	c := ts.mc(t)
	c.do("set "+key+" 0 0 "+itoa(len(value))+"\r\n"+value+"\r\n", "STORED\r\n")
	st.Store(ts.st)
	return ts
}

// maxContended bounds the writes the clock makes, so that a fix that retries
// until it wins (any number of times) ends.
const maxContended = 80

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// memcached applies every incr, however many clients change the key at the
// same time; so does sessiond, reading and writing under the key's lock
// (Store.Update). append and prepend likewise.
func TestMCIncrContended(t *testing.T) {
	ts := contendedStore(t, "ctr", "100", "(*mcConn).incr")
	c := ts.mc(t)
	if l := c.line("incr ctr 1\r\n"); l != "101" {
		t.Errorf("incr ctr 1 while others write ctr: got %q, want 101 (memcached never refuses an incr)", l)
	}
}

func TestMCAppendContended(t *testing.T) {
	ts := contendedStore(t, "sess", "abc", "(*mcConn).concat")
	c := ts.mc(t)
	if l := c.line("append sess 0 0 1\r\nd\r\n"); l != "STORED" {
		t.Errorf("append while others write the key: got %q, want STORED (as memcached)", l)
	}
}

// A gat of a key that exists all along returns it, as memcached's does,
// however often others write it: a session written often must not look
// logged out.
func TestMCGatContended(t *testing.T) {
	ts := contendedStore(t, "s", "x", "getAndTouch")
	c := ts.mc(t)
	if l := c.line("gat 100 s\r\n"); l != "VALUE s 0 1" {
		t.Errorf("gat 100 s while others write s: got %q, want \"VALUE s 0 1\" (memcached returns the key it holds)", l)
	}
}
