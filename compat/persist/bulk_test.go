package persist

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// bulk is a dataset written once, pipelined: n keys with values of size
// bytes made from the key, every fourth with a TTL of two hours.
type bulk struct {
	prefix  string
	n, size int
	pad     string
}

const bulkTTL = 2 * time.Hour

func newBulk(prefix string, n, size int) bulk {
	return bulk{prefix: prefix, n: n, size: size, pad: strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", size/36+2)}
}

func (b bulk) key(i int) string { return fmt.Sprintf("%s:%07d", b.prefix, i) }

func (b bulk) value(i int) string {
	head := b.key(i) + "|"
	return head + b.pad[i%36:i%36+max(0, b.size-len(head))]
}

// write writes the dataset to the server at addr over one connection,
// pipelined: a writer sends every command while the reader counts the
// replies. It speaks RESP itself, as go-redis costs seconds more for the
// same under the race detector.
func (b bulk) write(t *testing.T, addr string) {
	t.Helper()
	begin := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	sent := make(chan error, 1)
	go func() {
		ttl := strconv.Itoa(int(bulkTTL.Seconds()))
		var buf []byte
		for i := range b.n {
			args := []string{"SET", b.key(i), b.value(i)}
			if i%4 == 0 {
				args = append(args, "EX", ttl)
			}
			buf = appendCommand(buf, args...)
			if len(buf) >= 1<<20 || i == b.n-1 {
				if _, err := conn.Write(buf); err != nil {
					sent <- err
					return
				}
				buf = buf[:0]
			}
		}
		sent <- nil
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	for i := range b.n {
		if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			t.Fatalf("SET %s: reply %q, %v; want +OK", b.key(i), line, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("sending %d SETs: %v", b.n, err)
	}
	t.Logf("wrote %d keys of %d bytes in %s", b.n, b.size, time.Since(begin).Round(time.Millisecond))
}

// appendCommand appends a command in RESP to buf.
func appendCommand(buf []byte, args ...string) []byte {
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, "\r\n"...)
	for _, a := range args {
		buf = append(buf, '$')
		buf = strconv.AppendInt(buf, int64(len(a)), 10)
		buf = append(buf, "\r\n"...)
		buf = append(buf, a...)
		buf = append(buf, "\r\n"...)
	}
	return buf
}

// verify reads every key back and checks the TTLs of the first
// thousand. The values are read by MGET in batches over one connection,
// pipelined, each reply compared whole with the one expected; a batch
// that differs is read again with go-redis to say which keys.
func (b bulk) verify(t *testing.T, rdb *redis.Client, addr string) {
	t.Helper()
	const batch = 1000
	if lo := b.firstBadBatch(t, addr, batch); lo >= 0 {
		b.explain(t, rdb, lo, batch)
	}
	ctx := bounded(t)
	var ttls []*redis.DurationCmd
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < min(b.n, 1000); i++ {
			ttls = append(ttls, p.PTTL(ctx, b.key(i)))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("PTTL of %d keys: %v", len(ttls), err)
	}
	for i, c := range ttls {
		d := c.Val()
		switch {
		case i%4 == 0 && (d <= bulkTTL-10*time.Minute || d > bulkTTL):
			t.Errorf("PTTL %s = %v, want close to %v", b.key(i), d, bulkTTL)
		case i%4 != 0 && d != -1:
			t.Errorf("PTTL %s = %v, want -1 (no TTL)", b.key(i), d)
		default:
			continue
		}
		break
	}
}

// firstBadBatch reads the dataset with MGETs of batch keys and returns the
// index of the first key of the first reply that differs from the
// expected, or -1.
func (b bulk) firstBadBatch(t *testing.T, addr string, batch int) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	go func() { // ends with an error once conn is closed
		var buf []byte
		args := make([]string, 0, batch+1)
		for lo := 0; lo < b.n; lo += batch {
			args = append(args[:0], "MGET")
			for i := lo; i < min(lo+batch, b.n); i++ {
				args = append(args, b.key(i))
			}
			buf = appendCommand(buf[:0], args...)
			if _, err := conn.Write(buf); err != nil {
				return
			}
		}
	}()
	r := bufio.NewReaderSize(conn, 256<<10)
	var want, got []byte
	for lo := 0; lo < b.n; lo += batch {
		hi := min(lo+batch, b.n)
		want = append(want[:0], '*')
		want = strconv.AppendInt(want, int64(hi-lo), 10)
		want = append(want, "\r\n"...)
		for i := lo; i < hi; i++ {
			v := b.value(i)
			want = append(want, '$')
			want = strconv.AppendInt(want, int64(len(v)), 10)
			want = append(want, "\r\n"...)
			want = append(want, v...)
			want = append(want, "\r\n"...)
		}
		got = slices.Grow(got[:0], len(want))[:len(want)]
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want) {
			return lo
		}
	}
	return -1
}

// explain reports the keys from lo on that are lost or wrong, reading
// them with go-redis, batch keys at a time.
func (b bulk) explain(t *testing.T, rdb *redis.Client, lo, batch int) {
	t.Helper()
	ctx := bounded(t)
	bad := 0
	for ; lo < b.n; lo += batch {
		var keys []string
		for i := lo; i < min(lo+batch, b.n); i++ {
			keys = append(keys, b.key(i))
		}
		vals, err := rdb.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatalf("MGET %s and %d keys after: %v", keys[0], len(keys)-1, err)
		}
		for j, v := range vals {
			if s, ok := v.(string); !ok || s != b.value(lo+j) {
				if bad++; bad <= 5 {
					t.Errorf("GET %s = %.40v, want %.40q", keys[j], v, b.value(lo+j))
				}
			}
		}
	}
	t.Errorf("%d of %d bulk keys lost or wrong", bad, b.n)
}
