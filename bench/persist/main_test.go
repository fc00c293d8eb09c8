package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.phases, allPhases) || !slices.Equal(o.servers, []string{"sessiond", "redis"}) ||
		!slices.Equal(o.pipelines, []int{1, 16}) || o.conns != 50 || o.value != 512 || o.sessions != 1_000_000 ||
		o.logWrites != 100_000 || o.cpuRate != 0 || o.rewrites {
		t.Fatalf("defaults: %+v", o)
	}
	// Phases and servers come out in a fixed order whatever the flag's.
	o, err = parseFlags([]string{"-phases", "startup,cpu", "-servers", "redis,sessiond"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.phases, []string{"cpu", "startup"}) || !slices.Equal(o.servers, []string{"sessiond", "redis"}) {
		t.Fatalf("got phases %v servers %v", o.phases, o.servers)
	}
	for _, tt := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-phases", "memory"}, `"memory"`},
		{[]string{"-servers", "memcached"}, `"memcached"`},
		{[]string{"-pipelines", "0"}, "-pipelines"},
		{[]string{"-duration", "0s"}, "-duration"},
		{[]string{"-rounds", "0"}, "-rounds"},
		{[]string{"-cpu-rate", "-1"}, "-cpu-rate"},
		{[]string{"-snap-rate", "0"}, "-snap-rate"},
		{[]string{"-sessions", "1000", "-log-writes", "2000"}, "-log-writes"},
		{[]string{"-restarts", "0"}, "-restarts"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		_, err := parseFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseFlags(%q) = %v; want an error with %q", tt.args, err, tt.want)
		}
	}
}

func TestArgs(t *testing.T) {
	b := &bench{o: &options{}}
	for _, tt := range []struct {
		name, mode string
		want       string
	}{
		{target.Sessiond, memOnly, ""},
		{target.Sessiond, everysec, "--dir D --appendfsync everysec --auto-aof-rewrite-min-size 1000gb"},
		{target.Sessiond, rdbOnly, "--dir D --appendfsync everysec --auto-aof-rewrite-min-size 1000gb"},
		{target.Redis, memOnly, ""},
		{target.Redis, always, `--appendonly yes --appendfsync always --save "" --dir D --auto-aof-rewrite-percentage 0`},
		{target.Redis, rdbOnly, `--appendonly no --save "" --dir D --dbfilename dump.rdb`},
	} {
		if got := strings.Join(quoteEmpty(b.args(tt.name, tt.mode, "D")), " "); got != tt.want {
			t.Errorf("args(%s, %s) = %q, want %q", tt.name, tt.mode, got, tt.want)
		}
	}
	b.o.rewrites = true
	if got := strings.Join(b.args(target.Sessiond, everysec, "D"), " "); got != "--dir D --appendfsync everysec" {
		t.Errorf("with -rewrites: %q", got)
	}
	o, err := parseFlags([]string{"-sessiond-args", "--event-loops 1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b.o = o
	if got := strings.Join(b.args(target.Sessiond, memOnly, "D"), " "); got != "--event-loops 1" {
		t.Errorf("with -sessiond-args, in memory: %q", got)
	}
	if got := strings.Join(b.args(target.Sessiond, always, "D"), " "); got != "--dir D --appendfsync always --auto-aof-rewrite-min-size 1000gb --event-loops 1" {
		t.Errorf("with -sessiond-args: %q", got)
	}
}

func TestProc(t *testing.T) {
	// utime 100, stime 20, cutime 300, cstime 40 ticks; a command name
	// with spaces and a parenthesis.
	stat := "4242 (redis (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 100 20 300 40 20 0 5 0 100 1000 200\n"
	got, err := parseTreeCPU([]byte(stat), 10*time.Millisecond)
	if err != nil || got != 4600*time.Millisecond {
		t.Fatalf("parseTreeCPU = %v, %v; want 4.6s", got, err)
	}
	if _, err := parseTreeCPU([]byte("4242 (x) S 1 2"), time.Millisecond); err == nil {
		t.Fatal("short stat line parsed")
	}
	rollup := "55d0-7ffe ---p 00000000 00:00 0 [rollup]\nRss: 1640 kB\nPrivate_Dirty:       116 kB\nPss_File: 255 kB\n"
	if n, err := kbField([]byte(rollup), "Private_Dirty:"); err != nil || n != 116<<10 {
		t.Fatalf("Private_Dirty = %d, %v", n, err)
	}
	if _, err := kbField([]byte("Rss: 1 kB\n"), "RssAnon:"); err == nil {
		t.Fatal("a missing field parsed")
	}
}

func TestParseInfo(t *testing.T) {
	m := parseInfo("# Persistence\r\nloading:0\r\nrdb_saves:3\r\nrdb_last_bgsave_status:ok\r\n")
	if n, err := infoInt(m, "rdb_saves"); err != nil || n != 3 {
		t.Fatalf("rdb_saves = %d, %v", n, err)
	}
	if m["rdb_last_bgsave_status"] != "ok" {
		t.Fatalf("got %q", m)
	}
	if _, err := infoInt(m, "aof_rewrites"); err == nil {
		t.Fatal("a missing field parsed")
	}
	if !isLoading(load.ReplyError("LOADING Redis is loading the dataset in memory")) || isLoading(load.ReplyError("ERR x")) {
		t.Fatal("isLoading")
	}
}

func TestPrintCPU(t *testing.T) {
	b := &bench{o: &options{servers: []string{"sessiond", "redis"}, pipelines: []int{1, 16}, conns: 50, value: 512,
		duration: time.Second, rounds: 1, runOps: 1000}, stamp: "`go run ./bench/persist` — today, commit x"}
	// sessiond: 10 µs/SET at P1 everysec (Redis 8: 1.25×), 4 at P16 (Redis
	// 8: 0.50×); 8 and 2 in memory, Redis 6 and 5.
	cpu := map[cell]time.Duration{
		{1, memOnly, "sessiond"}: 8, {1, memOnly, "redis"}: 6, {1, everysec, "sessiond"}: 10, {1, everysec, "redis"}: 8,
		{16, memOnly, "sessiond"}: 2, {16, memOnly, "redis"}: 5, {16, everysec, "sessiond"}: 4, {16, everysec, "redis"}: 8,
	}
	res := map[cell]*writeSample{}
	for c, us := range cpu {
		res[c] = &writeSample{runs: 1, ops: 1000, elapsed: time.Second, cpu: 1000 * us * time.Microsecond}
	}
	var w bytes.Buffer
	if !b.printCPU(&w, res, []string{"raw line"}) {
		t.Fatal("reported invalid with no errors")
	}
	out := w.String()
	for _, want := range []string{
		"`go run ./bench/persist` — today, commit x",
		"| 1 | everysec | sessiond | 1,000 |",
		"| 10.00 |",
		"| 1.25× | 1.25× |", // × own in-memory, × Redis
		"| 16 | everysec | sessiond |",
		"| 2.00× | 0.50× |",
		"- Goal, pipeline 16: CPU per SET with everysec ≤ 0.8× Redis's: 0.50× — met.",
		"- Goal, pipeline 1: CPU per SET with everysec ≤ 1.0× Redis's: 1.25× — **missed**.",
		"raw line",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	res[cell{1, everysec, "redis"}].errors = 2
	if b.printCPU(io.Discard, res, nil) {
		t.Error("reported valid with error replies")
	}
}

func TestCommandLine(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "go run ./bench/persist"},
		{[]string{"-phases", "cpu"}, "go run ./bench/persist -phases cpu"},
		{[]string{"-sessiond-args", "--event-loops 1"}, "go run ./bench/persist -sessiond-args '--event-loops 1'"},
		{[]string{"-x", "it's"}, `go run ./bench/persist -x 'it'\''s'`},
	} {
		if got := commandLine(tt.args); got != tt.want {
			t.Errorf("commandLine(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]time.Duration{4, 1, 2, 3}); got != 2 {
		t.Errorf("median of four = %v", got)
	}
	// The cells' formats are bench/report's, tested there.
}
