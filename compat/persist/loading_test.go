package persist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestLoadingThenServes: a client that connects while a restarted server
// loads a large directory gets LOADING (over RESP; a SERVER_ERROR over
// memcached) or the right answer, never an answer from a store half
// loaded: a GET of a key that exists is never nil, DBSIZE never short. A
// write is refused with LOADING or kept. Before that, a server stopped
// in the middle of its load, by SIGTERM and by SIGKILL, must leave the
// directory whole.
func TestLoadingThenServes(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--memcache-addr", "127.0.0.1:0", "--auto-aof-rewrite-min-size", "1gb"}
	p := start(t, dir, args...)
	p.waitLoaded(t)
	b := newBulk("load", 200_000, 300)
	b.write(t, p.Addr)
	p.kill9(t)

	for _, stop := range []stopper{{name: "SIGTERM", stop: (*proc).sigterm}, {name: "SIGKILL", stop: (*proc).kill9}} {
		p = start(t, dir, args...)
		time.Sleep(100 * time.Millisecond)
		f := p.persistence(t)
		stop.stop(p, t)
		t.Logf("stopped by %s with loading:%s, %s entries loaded", stop.name, f["loading"], f["loading_loaded_entries"])
	}

	p = start(t, dir, args...) // it listens, and loads meanwhile
	var loaded atomic.Bool
	w := &writeProbe{rdb: newClient(t, p.Addr, 1)}
	probes := []struct {
		name string
		ask  func(rng *rand.Rand) (loading bool, err error)
	}{
		{"GET", b.probeGet(newClient(t, p.Addr, 1))},
		{"DBSIZE, EXISTS, PTTL", b.probeCount(newClient(t, p.Addr, 1))},
		{"memcache get", b.probeMemcache(t, p.MemcacheAddr)},
		{"SET", w.ask},
	}
	var wg sync.WaitGroup
	counts := make([][2]int, len(probes)) // LOADING replies, right answers
	for i, pr := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			deadline := time.Now().Add(30 * time.Second)
			after := 0 // right answers once the load was over
			for n := 0; n < 1_000_000 && after < 100 && time.Now().Before(deadline); n++ {
				done := loaded.Load()
				loading, err := pr.ask(rng)
				switch {
				case err != nil:
					t.Errorf("%s while the server loads: %v", pr.name, err)
					return
				case loading && counts[i][1] > 0:
					t.Errorf("%s: LOADING after %d right answers", pr.name, counts[i][1])
					return
				case loading:
					counts[i][0]++
				default:
					counts[i][1]++
					if done {
						after++
					}
				}
			}
			if after < 100 {
				t.Errorf("%s: %d right answers after the load in 30s", pr.name, after)
			}
		}()
	}
	sawLoading := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f := p.persistence(t)
		if f["loading"] == "1" {
			sawLoading = true
			continue
		}
		t.Logf("loaded in %sms (rdb_last_load_keys_loaded:%s)", f["sessiond_load_time_ms"], f["rdb_last_load_keys_loaded"])
		break
	}
	loaded.Store(true)
	wg.Wait()
	total := 0
	for i, pr := range probes {
		t.Logf("%s: %d LOADING replies, then %d right answers", pr.name, counts[i][0], counts[i][1])
		total += counts[i][0]
	}
	if total == 0 || !sawLoading {
		t.Errorf("no LOADING reply (%d) or INFO loading:1 (%v): the load was over before the first request, and the test checked nothing (make the dataset bigger)", total, sawLoading)
	}
	b.verify(t, p.rdb, p.Addr)
	w.verify(t)
}

// writeProbe SETs keys of its own, and remembers the ones acknowledged.
type writeProbe struct {
	rdb   *redis.Client
	acked []string
}

func (w *writeProbe) ask(*rand.Rand) (bool, error) {
	key := "probe:" + strconv.Itoa(len(w.acked))
	err := w.rdb.Set(context.Background(), key, key, 0).Err()
	switch {
	case isLoading(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("SET %s: %w", key, err)
	}
	w.acked = append(w.acked, key)
	return false, nil
}

// verify checks that every write acknowledged is there.
func (w *writeProbe) verify(t *testing.T) {
	t.Helper()
	if n := existing(t, w.rdb, w.acked); n != int64(len(w.acked)) {
		t.Errorf("%d of %d SETs acknowledged once the load was over are lost", int64(len(w.acked))-n, len(w.acked))
	}
}

// probeGet returns a probe that GETs a random key of the dataset. The
// client's timeouts bound each request.
func (b bulk) probeGet(rdb *redis.Client) func(*rand.Rand) (bool, error) {
	return func(rng *rand.Rand) (bool, error) {
		i := rng.IntN(b.n)
		v, err := rdb.Get(context.Background(), b.key(i)).Result()
		switch {
		case isLoading(err):
			return true, nil
		case errors.Is(err, redis.Nil):
			return false, fmt.Errorf("GET %s = nil, but it exists", b.key(i))
		case err != nil:
			return false, fmt.Errorf("GET %s: %w", b.key(i), err)
		case v != b.value(i):
			return false, fmt.Errorf("GET %s = %.40q, want %.40q", b.key(i), v, b.value(i))
		}
		return false, nil
	}
}

// probeCount returns a probe that asks DBSIZE, EXISTS of three keys and
// PTTL of one, in turn.
func (b bulk) probeCount(rdb *redis.Client) func(*rand.Rand) (bool, error) {
	n := 0
	return func(rng *rand.Rand) (bool, error) {
		n++
		ctx := context.Background() // bounded by the client's timeouts
		switch n % 3 {
		case 0:
			got, err := rdb.DBSize(ctx).Result()
			switch {
			case isLoading(err):
				return true, nil
			case err != nil:
				return false, fmt.Errorf("DBSIZE: %w", err)
			case got < int64(b.n): // the SET probe adds keys
				return false, fmt.Errorf("DBSIZE = %d, want %d or more", got, b.n)
			}
		case 1:
			keys := []string{b.key(rng.IntN(b.n)), b.key(rng.IntN(b.n)), b.key(rng.IntN(b.n))}
			got, err := rdb.Exists(ctx, keys...).Result()
			switch {
			case isLoading(err):
				return true, nil
			case err != nil:
				return false, fmt.Errorf("EXISTS %v: %w", keys, err)
			case got != 3:
				return false, fmt.Errorf("EXISTS %v = %d, want 3", keys, got)
			}
		default:
			i := rng.IntN(b.n)
			d, err := rdb.PTTL(ctx, b.key(i)).Result()
			switch {
			case isLoading(err):
				return true, nil
			case err != nil:
				return false, fmt.Errorf("PTTL %s: %w", b.key(i), err)
			case i%4 == 0 && (d <= bulkTTL-10*time.Minute || d > bulkTTL), i%4 != 0 && d != -1:
				return false, fmt.Errorf("PTTL %s = %v", b.key(i), d)
			}
		}
		return false, nil
	}
}

// probeMemcache returns a probe that gets a random key of the dataset over
// memcached's text protocol, read by hand so that a miss ("END") and a
// SERVER_ERROR are told apart.
func (b bulk) probeMemcache(t *testing.T, addr string) func(*rand.Rand) (bool, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := bufio.NewReader(conn)
	return func(rng *rand.Rand) (bool, error) {
		i := rng.IntN(b.n)
		key, want := b.key(i), b.value(i)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, "get "+key+"\r\n"); err != nil {
			return false, err
		}
		line, err := r.ReadString('\n')
		switch {
		case err != nil:
			return false, fmt.Errorf("get %s: %w", key, err)
		case strings.HasPrefix(line, "SERVER_ERROR"):
			return true, nil
		case line == "END\r\n":
			return false, fmt.Errorf("get %s: a miss, but it exists", key)
		case line != "VALUE "+key+" 0 "+strconv.Itoa(len(want))+"\r\n":
			return false, fmt.Errorf("get %s: %q, want a VALUE line of %d bytes", key, line, len(want))
		}
		data := make([]byte, len(want)+len("\r\nEND\r\n"))
		if _, err := io.ReadFull(r, data); err != nil {
			return false, fmt.Errorf("get %s: %w", key, err)
		}
		if string(data) != want+"\r\nEND\r\n" {
			return false, fmt.Errorf("get %s = %.60q, want %.40q", key, data, want)
		}
		return false, nil
	}
}
