package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer serves each connection with serve on a loopback port and
// returns the port's address.
func fakeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// fakeReplies are one protocol's answers of serveFake, each with its
// CRLF.
type fakeReplies struct{ err, miss, hit, stored string }

var respReplies = fakeReplies{
	err:    "-ERR fake error\r\n",
	miss:   "$-1\r\n",
	hit:    "$512\r\n" + strings.Repeat("v", 512) + "\r\n",
	stored: "+OK\r\n",
}

// serveFake answers every command read returns: any key ending in 7 with
// an error, a GET of a key ending in 0 with a miss, other GETs with a
// 512-byte value and sets with stored: enough to check the generator's
// counting, with no real server and no timing.
func serveFake(c net.Conn, read func(*bufio.Reader) (get bool, key string, err error), r fakeReplies) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for {
		get, key, err := read(br)
		if err != nil {
			return
		}
		switch {
		case strings.HasSuffix(key, "7"):
			bw.WriteString(r.err)
		case get && strings.HasSuffix(key, "0"):
			bw.WriteString(r.miss)
		case get:
			bw.WriteString(r.hit)
		default:
			bw.WriteString(r.stored)
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

func serveRESP(c net.Conn) {
	serveFake(c, func(br *bufio.Reader) (bool, string, error) {
		args, err := readCommand(br)
		if err == nil && len(args) < 2 {
			err = errors.New("no key")
		}
		if err != nil {
			return false, "", err
		}
		return args[0] == "GET", args[1], nil
	}, respReplies)
}

func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func TestRunCounts(t *testing.T) {
	addrs := map[Protocol]string{RESP: fakeServer(t, serveRESP), Memcache: fakeServer(t, serveMemcache)}
	firstErr := map[Protocol]string{RESP: "ERR fake error", Memcache: "SERVER_ERROR fake error"}
	ctx := context.Background()
	tests := []struct {
		name                 string
		proto                Protocol
		op                   Op
		pipeline             int
		n                    int64
		wantErrors, wantMiss int64
		wantBatchesAtLeast   int64
	}{
		// Sequential keys 0..999 over a keyspace of 1000: exactly 100
		// end in 7 and 100 in 0.
		{"set", RESP, OpSet, 1, 1000, 100, 0, 1000},
		{"get pipelined", RESP, OpGet, 16, 1000, 100, 100, 63},
		{"memcache set", Memcache, OpSet, 1, 1000, 100, 0, 1000},
		{"memcache get pipelined", Memcache, OpGet, 16, 1000, 100, 100, 63},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Dial(ctx, Config{Protocol: tt.proto, Addr: addrs[tt.proto], Conns: 4, Pipeline: tt.pipeline, Op: tt.op, Keyspace: 1000, Sequential: true})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			res, err := g.Run(ctx, 0, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != tt.n || res.Errors != tt.wantErrors || res.Misses != tt.wantMiss {
				t.Fatalf("ops %d errors %d misses %d; want %d, %d, %d", res.Ops, res.Errors, res.Misses, tt.n, tt.wantErrors, tt.wantMiss)
			}
			if res.FirstError != firstErr[tt.proto] {
				t.Fatalf("FirstError = %q", res.FirstError)
			}
			if res.Batches < tt.wantBatchesAtLeast || uint64(res.Batches) != res.Latency.Count() {
				t.Fatalf("batches %d, latency samples %d", res.Batches, res.Latency.Count())
			}
		})
	}
}

// TestRunRate checks that a rate holds the generator to its schedule: a
// flat-out run against the fake server sends thousands of commands in the
// time this one may send 200.
func TestRunRate(t *testing.T) {
	addr := fakeServer(t, serveRESP)
	ctx := context.Background()
	// 4 connections of 2 commands per round trip at 400 commands/s:
	// each sends every 20 ms, so in 500 ms at most 25 round trips.
	g, err := Dial(ctx, Config{Addr: addr, Conns: 4, Pipeline: 2, Op: OpGet, Keyspace: 1000, Rate: 400})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	res, err := g.Run(ctx, 500*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Ops > 200 {
		t.Fatalf("ops %d in 500 ms at 400/s: want 1 to 200", res.Ops)
	}
	if _, err := Dial(ctx, Config{Addr: addr, Rate: -1}); err == nil {
		t.Fatal("Dial accepted a negative rate")
	}
}

func TestDialRefusesRemote(t *testing.T) {
	_, err := Dial(context.Background(), Config{Addr: "192.0.2.1:6379"})
	if !errors.Is(err, ErrNotLocal) {
		t.Fatalf("got %v, want ErrNotLocal", err)
	}
	if _, err := Do(context.Background(), "tcp", "192.0.2.1:6379", "PING"); !errors.Is(err, ErrNotLocal) {
		t.Fatalf("Do: got %v, want ErrNotLocal", err)
	}
	if _, err := DoMemcache(context.Background(), "tcp", "192.0.2.1:11211", "version"); !errors.Is(err, ErrNotLocal) {
		t.Fatalf("DoMemcache: got %v, want ErrNotLocal", err)
	}
}

func TestDialRefusesUnknownProtocol(t *testing.T) {
	_, err := Dial(context.Background(), Config{Protocol: "http", Addr: "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), `protocol "http"`) {
		t.Fatalf("got %v, want an error naming the protocol", err)
	}
}

func TestRunNeedsBound(t *testing.T) {
	g, err := Dial(context.Background(), Config{Addr: fakeServer(t, serveRESP), Conns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Run(context.Background(), 0, 0); err == nil {
		t.Fatal("unbounded Run did not fail")
	}
}

// TestRunRewrite checks that OpSession with Rewrite writes only the
// sessions of the keyspace, each always with its user's id and never the
// same value twice, and without it new sessions spread over Users users.
func TestRunRewrite(t *testing.T) {
	var mu sync.Mutex
	users := map[string]map[string]bool{} // key -> users seen
	values := map[string]bool{}
	addr := fakeServer(t, func(c net.Conn) {
		br, bw := bufio.NewReader(c), bufio.NewWriter(c)
		for {
			args, err := readCommand(br)
			if err != nil {
				return
			}
			var v struct{ Passport struct{ User string } }
			if len(args) != 5 || json.Unmarshal([]byte(args[2]), &v) != nil {
				bw.WriteString("-ERR bad command\r\n")
			} else {
				mu.Lock()
				if users[args[1]] == nil {
					users[args[1]] = map[string]bool{}
				}
				users[args[1]][v.Passport.User] = true
				values[args[2]] = true
				mu.Unlock()
				bw.WriteString("+OK\r\n")
			}
			if br.Buffered() == 0 && bw.Flush() != nil {
				return
			}
		}
	})
	ctx := context.Background()
	run := func(cfg Config, n int64) {
		t.Helper()
		res, err := RunOnce(ctx, cfg, n)
		if err != nil || res.Ops != n {
			t.Fatalf("%+v: %d ops, %v", cfg, res.Ops, err)
		}
	}
	// RunOnce fails on error replies: the fake answers keys ending in 7 so.
	if _, err := RunOnce(ctx, Config{Addr: fakeServer(t, serveRESP), Conns: 2, Keyspace: 100, Sequential: true}, 100); err == nil || !strings.Contains(err.Error(), "10 error replies") {
		t.Fatalf("RunOnce with error replies: %v", err)
	}
	run(Config{Addr: addr, Conns: 4, Pipeline: 8, Op: OpSession, Rewrite: true, Keyspace: 50, Users: 7}, 2000)
	if len(users) != 50 || len(values) < 1990 {
		t.Fatalf("%d keys, %d distinct values in 2,000 rewrites of 50 sessions", len(users), len(values))
	}
	for k := range uint64(50) {
		if u := users[SessionKey(k)]; len(u) != 1 || !u[SessionUser(k%7)] {
			t.Fatalf("session %d: users %v, want only %s", k, u, SessionUser(k%7))
		}
	}
	clear(users)
	run(Config{Addr: addr, Conns: 4, Pipeline: 8, Op: OpSession, Users: 7}, 700)
	perUser := map[string]int{}
	for k, u := range users {
		if len(u) != 1 {
			t.Fatalf("new session %s written with users %v", k, u)
		}
		for id := range u {
			perUser[id]++
		}
	}
	if len(users) != 700 || len(perUser) != 7 || perUser[SessionUser(3)] != 100 {
		t.Fatalf("700 new sessions: %d keys, users %v", len(users), perUser)
	}
}
