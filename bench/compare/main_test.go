package main

import (
	"io"
	"slices"
	"testing"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.servers, []string{"sessiond", "redis"}) || !slices.Equal(o.pipelines, []int{1, 16}) ||
		!slices.Equal(o.ops, []load.Op{load.OpSet, load.OpGet}) || o.duration != 5*time.Second || o.rounds != 2 {
		t.Fatalf("defaults: %+v", o)
	}
	// Servers come out in a fixed order whatever the flag's order.
	o, err = parseFlags([]string{"-servers", "redis,sessiond", "-ops", "GET"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.servers, []string{"sessiond", "redis"}) || !slices.Equal(o.ops, []load.Op{load.OpGet}) {
		t.Fatalf("got servers %v ops %v", o.servers, o.ops)
	}
	for _, bad := range [][]string{
		{"-servers", "memcached"},
		{"-phases", "latency"},
		{"-pipelines", "0"},
		{"-ops", "session"},
		{"-rounds", "0"},
		{"-duration", "0s"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {87123.6, "87,124"}, {1234567, "1,234,567"}, {-1000, "-1,000"}} {
		if got := thousands(tt.f); got != tt.want {
			t.Errorf("thousands(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	if got := ratio(3, 2); got != "1.50×" {
		t.Errorf("ratio = %q", got)
	}
	if got := ratio(1, 0); got != "n/a" {
		t.Errorf("ratio by zero = %q", got)
	}
	if got := latency(2.345); got != "2.3" {
		t.Errorf("latency = %q", got)
	}
}
