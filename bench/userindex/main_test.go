package main

import (
	"io"
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.phases, []string{"cpu", "memory", "revoke"}) || o.rounds != 3 || o.pipeline != 16 ||
		o.keyspace != 100_000 || o.users != 10_000 || o.sessions != 1_000_000 || o.memUsers != 100_000 ||
		o.perUser != 100 || o.duration != 5*time.Second {
		t.Fatalf("defaults: %+v", o)
	}
	for _, bad := range [][]string{
		{"-phases", "latency"},
		{"-rounds", "0"},
		{"-duration", "0s"},
		{"-pipeline", "0"},
		{"-users", "200000"},  // more users than sessions
		{"-mem-users", "0"},   // the first case needs users
		{"-revokes", "20000"}, // more revokes than users
		{"-per-user", "0"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}

func TestInfoInt(t *testing.T) {
	info := "# Memory\r\nused_memory:123\r\nused_memory_human:123B\r\nsessiond_go_heap_inuse:77\r\n"
	for field, want := range map[string]int64{"used_memory": 123, "sessiond_go_heap_inuse": 77, "used_memory_human": -1, "maxmemory": -1} {
		if got := infoInt(info, field); got != want {
			t.Errorf("infoInt(%s) = %d, want %d", field, got, want)
		}
	}
}

func TestIndexArgs(t *testing.T) {
	if got := indexArgs(off); !slices.Equal(got, []string{"--user-field="}) {
		t.Fatalf("off: %q", got)
	}
	if got := indexArgs(on); len(got) != 0 {
		t.Fatalf("on: %q, want the default", got)
	}
}
