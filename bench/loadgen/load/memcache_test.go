package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

var memcacheReplies = fakeReplies{
	err:    "SERVER_ERROR fake error\r\n",
	miss:   "END\r\n",
	hit:    "VALUE k 0 512\r\n" + strings.Repeat("v", 512) + "\r\nEND\r\n",
	stored: "STORED\r\n",
}

func serveMemcache(c net.Conn) { serveFake(c, readMemcache, memcacheReplies) }

// readMemcache reads a get or a set and its data block.
func readMemcache(br *bufio.Reader) (get bool, key string, err error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return false, "", err
	}
	f := strings.Fields(line)
	switch {
	case len(f) == 2 && f[0] == "get":
		return true, f[1], nil
	case len(f) == 5 && f[0] == "set":
		n, err := strconv.Atoi(f[4])
		if err == nil {
			_, err = br.Discard(n + 2)
		}
		return false, f[1], err
	}
	return false, "", fmt.Errorf("fake memcached: %q", line)
}

func TestRunMemcacheCountsNotStored(t *testing.T) {
	notStored := memcacheReplies
	notStored.stored = "NOT_STORED\r\n"
	addr := fakeServer(t, func(c net.Conn) { serveFake(c, readMemcache, notStored) })
	g, err := Dial(context.Background(), Config{Protocol: Memcache, Addr: addr, Conns: 2, Keyspace: 10, Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	res, err := g.Run(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Keys 0..9, ten times: those ending in 7 get SERVER_ERROR, the
	// rest NOT_STORED, which a set must not answer either.
	if res.Errors != 100 {
		t.Fatalf("errors %d, want 100 (first: %s)", res.Errors, res.FirstError)
	}
}

func TestMemcacheReaderRead(t *testing.T) {
	value := strings.Repeat("x", 512)
	tests := []readCase{
		{"stored", "STORED\r\n", Reply{Kind: '+', Text: "STORED"}},
		{"not stored", "NOT_STORED\r\n", Reply{Kind: '+', Text: "NOT_STORED"}},
		{"ok", "OK\r\n", Reply{Kind: '+', Text: "OK"}},
		{"version", "VERSION 1.6.18\r\n", Reply{Kind: '+', Text: "VERSION 1.6.18"}},
		{"miss", "END\r\n", Reply{Kind: '$', Len: -1}},
		{"hit", "VALUE key:00000001 0 512\r\n" + value + "\r\nEND\r\n", Reply{Kind: '$', Len: 512}},
		{"hit with cas", "VALUE k 42 3 1234567890123456789\r\nabc\r\nEND\r\n", Reply{Kind: '$', Len: 3}},
		{"empty value", "VALUE k 0 0\r\n\r\nEND\r\n", Reply{Kind: '$', Len: 0}},
		{"value holding END", "VALUE k 0 5\r\nEND\r\n\r\nEND\r\n", Reply{Kind: '$', Len: 5}},
		{"two values", "VALUE a 0 1\r\na\r\nVALUE b 0 2\r\nbb\r\nEND\r\n", Reply{Kind: '*', Len: 2}},
		{"error", "ERROR\r\n", Reply{Kind: '-', Err: "ERROR"}},
		{"client error", "CLIENT_ERROR bad data chunk\r\n", Reply{Kind: '-', Err: "CLIENT_ERROR bad data chunk"}},
		{"server error", "SERVER_ERROR out of memory storing object\r\n", Reply{Kind: '-', Err: "SERVER_ERROR out of memory storing object"}},
		{"number", "12\r\n", Reply{Kind: ':', Int: 12}},
	}
	testReads(t, Memcache, tests)
}

func TestMemcacheReaderMalformed(t *testing.T) {
	tests := []malformedCase{
		{"unknown reply", "HELLO\r\n", ErrProtocol},
		{"word run on", "STOREDX\r\n", ErrProtocol},
		{"error run on", "ERRORS\r\n", ErrProtocol},
		{"empty line", "\r\n", ErrProtocol},
		{"no CR", "STORED\n", ErrProtocol},
		{"value without bytes", "VALUE k 0\r\n", ErrProtocol},
		{"value without key", "VALUE  0 1\r\n", ErrProtocol},
		{"negative bytes", "VALUE k 0 -1\r\n", ErrProtocol},
		{"bad flags", "VALUE k x 1\r\n", ErrProtocol},
		{"bad cas", "VALUE k 0 1 x\r\na\r\nEND\r\n", ErrProtocol},
		{"extra field", "VALUE k 0 1 2 3\r\na\r\nEND\r\n", ErrProtocol},
		{"huge bytes", "VALUE k 0 1099511627776000000000\r\n", ErrProtocol},
		{"data block too long", "VALUE k 0 1\r\nab\r\nEND\r\n", ErrProtocol},
		{"no END", "VALUE k 0 1\r\na\r\nSTORED\r\n", ErrProtocol},
		{"too many values", "VALUE k 0 1\r\na\r\n" + strings.Repeat("VALUE k 0 1\r\na\r\n", maxValues) + "END\r\n", ErrProtocol},
		{"eof at start", "", io.ErrUnexpectedEOF},
		{"eof in line", "STORED", io.ErrUnexpectedEOF},
		{"eof in data block", "VALUE k 0 10\r\nabc", io.ErrUnexpectedEOF},
		{"eof before END", "VALUE k 0 1\r\na\r\n", io.ErrUnexpectedEOF},
	}
	testMalformed(t, Memcache, tests)
}

func FuzzMemcacheReader(f *testing.F) {
	for _, seed := range []string{
		"STORED\r\n", "END\r\n", "VALUE k 0 3\r\nabc\r\nEND\r\n", "VALUE a 0 1\r\na\r\nVALUE b 0 1 9\r\nb\r\nEND\r\n",
		"SERVER_ERROR x\r\n", "VERSION 1\r\n", "12\r\n", "VALUE k 0 99999999\r\n",
	} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		// Fed in chunks, as a socket delivers; whatever the bytes, the
		// reader must return a reply or an error, never panic or loop.
		r := io.Reader(bytes.NewReader(in))
		if chunk > 0 {
			r = &chunkReader{r: r, n: int(chunk)}
		}
		rd := NewMemcacheReader(bufio.NewReaderSize(r, 16))
		for range len(in) + 1 {
			rep, err := rd.Read()
			if err != nil {
				return
			}
			if rep.Kind == 0 {
				t.Fatalf("reply without a kind: %+v", rep)
			}
		}
		t.Fatalf("%d replies from %d bytes", len(in)+1, len(in))
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// startMemcached runs the system's memcached on a free loopback port for
// the test, or skips the test without one.
func startMemcached(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed (apt-get install memcached)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := []string{"-U", "0", "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1024"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses root
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		rep, err := DoMemcache(ctx, "tcp", addr, "version")
		if err == nil && strings.HasPrefix(rep.Text, "VERSION ") {
			return addr
		}
		if ctx.Err() != nil {
			t.Fatalf("memcached on %s not ready: %v, %+v\n%s", addr, err, rep, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMemcached(t *testing.T) {
	addr := startMemcached(t)
	ctx := context.Background()
	run := func(cfg Config, n int64) Result {
		t.Helper()
		cfg.Protocol, cfg.Addr, cfg.Conns, cfg.Keyspace = Memcache, addr, 4, 1000
		g, err := Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		res, err := g.Run(ctx, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors > 0 || res.Ops != n {
			t.Fatalf("%v: %d ops, %d errors (first: %s)", cfg.Op, res.Ops, res.Errors, res.FirstError)
		}
		return res
	}
	run(Config{Op: OpSet, Pipeline: 16, Sequential: true}, 1000)
	if res := run(Config{Op: OpGet, Pipeline: 16}, 2000); res.Misses != 0 {
		t.Fatalf("get after the fill: %d misses", res.Misses)
	}
	run(Config{Op: OpSession, Pipeline: 1}, 200)

	rep, err := DoMemcache(ctx, "tcp", addr, "get", "key:00000001", "key:00000002")
	if err != nil || rep.Kind != '*' || rep.Len != 2 {
		t.Fatalf("get of two keys: %+v, %v", rep, err)
	}
	if rep, err := DoMemcache(ctx, "tcp", addr, "flush_all"); err != nil || rep.Text != "OK" {
		t.Fatalf("flush_all: %+v, %v", rep, err)
	}
	if res := run(Config{Op: OpGet, Pipeline: 16}, 160); res.Misses != 160 {
		t.Fatalf("get after flush_all: %d misses of 160", res.Misses)
	}
	if rep, err := DoMemcache(ctx, "tcp", addr, "bogus"); err != nil || rep.Err != "ERROR" {
		t.Fatalf("unknown command: %+v, %v", rep, err)
	}
}

func BenchmarkMemcacheReaderRead(b *testing.B) {
	// Sixteen replies to a pipelined get of 512-byte values.
	benchmarkRead(b, Memcache, "VALUE key:00000001 0 512\r\n"+strings.Repeat("v", 512)+"\r\nEND\r\n")
}
