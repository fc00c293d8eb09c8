package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.protocol != load.RESP || o.reference != "redis" || !slices.Equal(o.transports, []string{"tcp", "unix"}) ||
		!slices.Equal(o.phases, []string{"throughput", "memory"}) ||
		!slices.Equal(o.servers, []string{"sessiond", "redis"}) || !slices.Equal(o.pipelines, []int{1, 16}) ||
		!slices.Equal(o.ops, []load.Op{load.OpSet, load.OpGet}) || o.duration != 5*time.Second || o.rounds != 2 || o.rate != 0 || o.spread != 3 {
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
		{"-rate", "-5"},
		{"-value-spread", "101"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}

func TestParseFlagsMemcache(t *testing.T) {
	o, err := parseFlags([]string{"-protocol", "memcache"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.protocol != load.Memcache || o.reference != "memcached" || !slices.Equal(o.servers, []string{"sessiond", "memcached"}) ||
		!slices.Equal(o.transports, []string{"tcp"}) || !slices.Equal(o.phases, []string{"throughput"}) {
		t.Fatalf("memcache defaults: %+v", o)
	}
	if o, err := parseFlags([]string{"-protocol", "memcache", "-servers", "memcached"}, io.Discard); err != nil || !slices.Equal(o.servers, []string{"memcached"}) {
		t.Fatalf("memcached alone: %+v, %v", o, err)
	}
	for _, tt := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-protocol", "memcache", "-transports", "tcp,unix"}, "-transports unix"},
		{[]string{"-protocol", "memcache", "-phases", "memory"}, "-phases memory"},
		{[]string{"-protocol", "memcache", "-servers", "redis"}, "with -protocol memcache"},
		{[]string{"-protocol", "http"}, `protocol "http"`},
	} {
		_, err := parseFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseFlags(%q) = %v; want an error with %q", tt.args, err, tt.want)
		}
	}
}
