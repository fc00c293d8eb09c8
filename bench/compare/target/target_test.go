package target

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis, as a process may
	// choose; utime 1234 and stime 66 ticks.
	stat := "4242 (redis (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 1234 66 0 0 20 0 5 0 100 1000 200 18446744073709551615\n"
	got, err := parseStatCPU([]byte(stat), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if want := (CPUTime{User: 12340 * time.Millisecond, System: 660 * time.Millisecond}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got.Total() != 13*time.Second {
		t.Fatalf("Total() = %v, want 13s", got.Total())
	}
	if d := got.Sub(CPUTime{User: time.Second, System: 60 * time.Millisecond}); d != (CPUTime{User: 11340 * time.Millisecond, System: 600 * time.Millisecond}) {
		t.Fatalf("Sub = %+v", d)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2"), time.Millisecond); err == nil {
		t.Fatal("short stat line parsed")
	}
}

func TestStartMemcached(t *testing.T) {
	if _, err := exec.LookPath("memcached"); err != nil {
		t.Skip("memcached not installed (apt-get install memcached)")
	}
	s, err := Start(context.Background(), Config{Name: Memcached, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.MemcacheAddr != s.Addr || s.Unix != "" {
		t.Fatalf("memcached listens on %q and %q; want TCP only", s.Addr, s.Unix)
	}
	rep, err := load.DoMemcache(context.Background(), "tcp", s.MemcacheAddr, "version")
	if err != nil || !strings.HasPrefix(rep.Text, "VERSION ") {
		t.Fatalf("version: %+v, %v", rep, err)
	}
	if _, err := s.CPUTime(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil || s.Alive() {
		t.Fatalf("Stop: %v, alive %v", err, s.Alive())
	}
}

func TestStartRefusesMemcacheOnRedis(t *testing.T) {
	_, err := Start(context.Background(), Config{Name: Redis, Dir: t.TempDir(), Memcache: true})
	if err == nil || !strings.Contains(err.Error(), "memcached protocol") {
		t.Fatalf("got %v", err)
	}
}

func TestMeasure(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	ctx := context.Background()
	s, err := Start(ctx, Config{Name: Redis, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cfg := load.Config{Network: "unix", Addr: s.Unix, Conns: 4, Pipeline: 4, Keyspace: 100}
	res, cpu, err := Measure(ctx, s, cfg, 50*time.Millisecond, 300*time.Millisecond)
	if err != nil || res.Ops == 0 || res.Errors > 0 {
		t.Fatalf("Measure: %d ops, %d errors, %v", res.Ops, res.Errors, err)
	}
	// The warm-up is not in the result: the run alone lasts 300 ms.
	if res.Elapsed < 300*time.Millisecond || res.Elapsed > 10*time.Second || cpu.User < 0 || cpu.System < 0 {
		t.Fatalf("run of %v, server CPU %+v", res.Elapsed, cpu)
	}
	if _, _, err := Measure(ctx, s, load.Config{Addr: "192.0.2.1:1"}, 0, time.Millisecond); err == nil {
		t.Fatal("Measure of a non-loopback address did not fail")
	}
}
