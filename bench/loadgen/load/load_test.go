package load

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeServer answers SET with +OK, GET with a 512-byte bulk or, for keys
// ending in 0, a null, and any key ending in 7 with an error: enough to
// check the generator's counting, with no real server and no timing.
func fakeServer(t *testing.T) string {
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

func serve(c net.Conn) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	value := "$512\r\n" + strings.Repeat("v", 512) + "\r\n"
	for {
		args, err := readCommand(br)
		if err != nil {
			return
		}
		key := args[1]
		switch {
		case strings.HasSuffix(key, "7"):
			bw.WriteString("-ERR fake error\r\n")
		case args[0] == "GET" && strings.HasSuffix(key, "0"):
			bw.WriteString("$-1\r\n")
		case args[0] == "GET":
			bw.WriteString(value)
		default:
			bw.WriteString("+OK\r\n")
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
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
	addr := fakeServer(t)
	ctx := context.Background()
	tests := []struct {
		name                 string
		op                   Op
		pipeline             int
		n                    int64
		wantErrors, wantMiss int64
		wantBatchesAtLeast   int64
	}{
		// Sequential keys 0..999 over a keyspace of 1000: exactly 100
		// end in 7 and 100 in 0.
		{"set", OpSet, 1, 1000, 100, 0, 1000},
		{"get pipelined", OpGet, 16, 1000, 100, 100, 63},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Dial(ctx, Config{Addr: addr, Conns: 4, Pipeline: tt.pipeline, Op: tt.op, Keyspace: 1000, Sequential: true})
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
			if res.FirstError != "ERR fake error" {
				t.Fatalf("FirstError = %q", res.FirstError)
			}
			if res.Batches < tt.wantBatchesAtLeast || uint64(res.Batches) != res.Latency.Count() {
				t.Fatalf("batches %d, latency samples %d", res.Batches, res.Latency.Count())
			}
		})
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
}

func TestRunNeedsBound(t *testing.T) {
	g, err := Dial(context.Background(), Config{Addr: fakeServer(t), Conns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Run(context.Background(), 0, 0); err == nil {
		t.Fatal("unbounded Run did not fail")
	}
}
