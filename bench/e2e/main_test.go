package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-servers", "redis,sessiond", "-modes", "read"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.servers[0] != "sessiond" || o.servers[1] != "redis" || len(o.modes) != 1 || o.modes[0].path != "/" || !o.modes[0].cookie {
		t.Fatalf("got %+v", o)
	}
	for _, bad := range [][]string{
		{"-servers", "memcached"},
		{"-modes", "delete"},
		{"-duration", "1500ms"},
		{"-rounds", "0"},
		{"-transport", "udp"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}

func TestReportSumsRounds(t *testing.T) {
	o := &options{servers: []string{"sessiond", "redis"}, modes: allModes[:1], duration: time.Second, rounds: 2}
	var rs []*result
	for _, s := range o.servers {
		for range 2 {
			rs = append(rs, &result{server: s, mode: allModes[0], requests: 1000, seconds: 1, p50: 10, p99: 20, storeCPU: 10 * time.Millisecond})
		}
	}
	rs[0].storeCPU = 30 * time.Millisecond // sessiond: 40ms over 2000 requests, 20µs; redis 10µs
	var b strings.Builder
	if ok := report(&b, o, nil, map[string]string{}, rs); !ok {
		t.Fatal("report says invalid")
	}
	if !strings.Contains(b.String(), "| new | SET | sessiond | 1000 | 10 | 20 | 20.0 | 0 | 2.00× | 1.00× |") {
		t.Fatalf("table:\n%s", b.String())
	}
	rs[3].bad = 1
	b.Reset()
	if ok := report(&b, o, nil, map[string]string{}, rs); ok || !strings.Contains(b.String(), "INVALID") {
		t.Fatalf("a bad response did not invalidate:\n%s", b.String())
	}
}
