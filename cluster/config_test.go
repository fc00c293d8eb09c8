package cluster

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no address", Config{}, "no bind address"},
		{"non-loopback without a key", Config{BindAddr: "10.0.0.1:7946"}, "not a loopback address and there is no cluster key"},
		{"non-loopback data address without a key", Config{BindAddr: "127.0.0.1:7946", DataAddr: "0.0.0.0:7947"}, "0.0.0.0:7947 is not a loopback address"},
		{"key of the wrong size", Config{BindAddr: "127.0.0.1:7946", Keys: [][]byte{make([]byte, 20)}}, "key 1 of 1: 20 bytes"},
		{"second key of the wrong size", Config{BindAddr: "127.0.0.1:7946", Keys: [][]byte{make([]byte, 32), make([]byte, 15)}}, "key 2 of 2: 15 bytes: want 16, 24 or 32"},
		{"an empty key", Config{BindAddr: "127.0.0.1:7946", Keys: [][]byte{make([]byte, 16), nil}}, "key 2 of 2: 0 bytes"},
		{"too many keys", Config{BindAddr: "127.0.0.1:7946", Keys: make([][]byte, MaxKeys+1)}, "9 keys: at most 8"},
		{"bad port", Config{BindAddr: "127.0.0.1:x"}, "bad port"},
		{"negative sync replicas", Config{BindAddr: "127.0.0.1:7946", SyncReplicas: -1}, "must not be negative"},
	} {
		_, err := tc.cfg.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if insecure := strings.Contains(tc.want, "loopback"); insecure != errors.Is(err, ErrInsecure) {
			t.Errorf("%s: %v is ErrInsecure: %v, want %v", tc.name, err, !insecure, insecure)
		}
	}
	for _, ok := range []Config{
		{BindAddr: "10.0.0.1:7946", Keys: [][]byte{make([]byte, 32)}},
		{BindAddr: "10.0.0.1:7946", Keys: [][]byte{make([]byte, 32), make([]byte, 16), make([]byte, 24)}},
		{BindAddr: "0.0.0.0:7946", Insecure: true},
		{BindAddr: "localhost:7946"},
		{BindAddr: "[::1]:7946"},
	} {
		c, err := ok.withDefaults()
		if err != nil {
			t.Errorf("%+v refused: %v", ok, err)
			continue
		}
		if c.DataAddr == "" || c.NodeName == "" || c.ClusterName != "sessiond" {
			t.Errorf("%+v: defaults not filled: %+v", ok, c)
		}
	}
	if c, _ := (Config{BindAddr: "127.0.0.1:7946"}).withDefaults(); c.DataAddr != "127.0.0.1:7947" {
		t.Errorf("data address %q, want the gossip port plus one", c.DataAddr)
	}
}
