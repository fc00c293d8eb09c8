package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/jsonpath"
)

// defaults is the configuration with nothing set.
func defaults(change func(c *Config)) Config {
	c := Config{
		Policy:        sessiond.NoEviction,
		MaxValueSize:  1 << 20,
		LogFormat:     "text",
		LogLevel:      slog.LevelInfo,
		Addr:          "127.0.0.1:6379",
		UnixPerm:      0o600,
		MaxClients:    10000,
		ProtectedMode: true,

		SlowlogSlowerThan: 10 * time.Millisecond,
		SlowlogMaxLen:     128,

		UserField:      mustPaths("passport.user"),
		EventLoops:     1,
		CompactMinSize: 64 << 20,
		TombstoneTTL:   24 * time.Hour,
		Cluster: ClusterConfig{
			Name: "sessiond", JoinTimeout: time.Minute,
			SyncTimeout: 2 * time.Second, RepairInterval: 5 * time.Second,
		},
	}
	if change != nil {
		change(&c)
	}
	return c
}

// load runs loadConfig with env as the whole environment and file, if not
// empty, written to a TOML file whose path replaces $FILE in args, env
// values and the returned error text.
func load(t *testing.T, args []string, env map[string]string, file string) (*Config, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessiond.toml")
	if file != "" {
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args = append([]string(nil), args...)
	for i := range args {
		args[i] = strings.ReplaceAll(args[i], "$FILE", path)
	}
	lookupEnv := func(name string) (string, bool) {
		v, ok := env[name]
		return strings.ReplaceAll(v, "$FILE", path), ok
	}
	c, err := loadConfig(args, lookupEnv)
	return c, path, err
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want Config
	}{
		{
			name: "defaults",
			want: defaults(nil),
		},
		{
			name: "flags",
			args: []string{"--maxmemory", "512mb", "--maxmemory-policy=allkeys-lru", "-max-value-size", "4kb",
				"--shards", "16", "--log-format", "json", "--log-level", "debug"},
			want: defaults(func(c *Config) {
				c.MaxMemory = 512 << 20
				c.Policy = sessiond.AllKeysLRU
				c.MaxValueSize = 4096
				c.Shards = 16
				c.LogFormat = "json"
				c.LogLevel = slog.LevelDebug
			}),
		},
		{
			name: "user field",
			args: []string{"--user-field", `user.id, passport.user,a\.b`},
			want: defaults(func(c *Config) { c.UserField = mustPaths(`user.id,passport.user,a\.b`) }),
		},
		{
			name: "no user index",
			args: []string{"--user-field="},
			want: defaults(func(c *Config) { c.UserField = nil }),
		},
		{
			name: "slow log and latency monitor",
			args: []string{"--slowlog-log-slower-than", "0", "--slowlog-max-len", "5", "--latency-monitor-threshold", "20"},
			want: defaults(func(c *Config) {
				c.SlowlogSlowerThan = time.Nanosecond // every command
				c.SlowlogMaxLen = 5
				c.LatencyMonitorThreshold = 20 * time.Millisecond
			}),
		},
		{
			name: "slow log off",
			args: []string{"--slowlog-log-slower-than", "-5"},
			want: defaults(func(c *Config) { c.SlowlogSlowerThan = -1 }),
		},
		{
			name: "env",
			env: map[string]string{
				"SESSIOND_MAXMEMORY":        "2gb",
				"SESSIOND_MAXMEMORY_POLICY": "volatile-ttl",
				"SESSIOND_MAX_VALUE_SIZE":   "1k",
				"SESSIOND_LOG_LEVEL":        "WARN",
			},
			want: defaults(func(c *Config) {
				c.MaxMemory = 2 << 30
				c.Policy = sessiond.VolatileTTL
				c.MaxValueSize = 1000
				c.LogLevel = slog.LevelWarn
			}),
		},
		{
			name: "file",
			args: []string{"--config", "$FILE"},
			file: "# sessiond\nmaxmemory = \"1gb\"\nmaxmemory-policy = \"allkeys-lru\"\nmax-value-size = 65536\nshards = 8\nlog-format = \"json\"\n",
			want: defaults(func(c *Config) {
				c.File = "$FILE"
				c.MaxMemory = 1 << 30
				c.Policy = sessiond.AllKeysLRU
				c.MaxValueSize = 65536
				c.Shards = 8
				c.LogFormat = "json"
			}),
		},
		{
			name: "file named by the environment",
			env:  map[string]string{"SESSIOND_CONFIG": "$FILE"},
			file: "shards = 4\n",
			want: defaults(func(c *Config) { c.File = "$FILE"; c.Shards = 4 }),
		},
		{
			name: "env over file",
			args: []string{"--config", "$FILE"},
			env:  map[string]string{"SESSIOND_MAXMEMORY": "2gb"},
			file: "maxmemory = \"1gb\"\nshards = 8\n",
			want: defaults(func(c *Config) { c.File = "$FILE"; c.MaxMemory = 2 << 30; c.Shards = 8 }),
		},
		{
			name: "flag over env over file",
			args: []string{"--config", "$FILE", "--maxmemory", "3gb"},
			env:  map[string]string{"SESSIOND_MAXMEMORY": "2gb", "SESSIOND_SHARDS": "32"},
			file: "maxmemory = \"1gb\"\nshards = 8\nlog-level = \"error\"\n",
			want: defaults(func(c *Config) {
				c.File = "$FILE"
				c.MaxMemory = 3 << 30
				c.Shards = 32
				c.LogLevel = slog.LevelError
			}),
		},
		{
			name: "config flag over config env",
			args: []string{"--config", "$FILE"},
			env:  map[string]string{"SESSIOND_CONFIG": "/nonexistent/sessiond.toml"},
			file: "shards = 2\n",
			want: defaults(func(c *Config) { c.File = "$FILE"; c.Shards = 2 }),
		},
		{
			name: "empty variable is unset",
			env:  map[string]string{"SESSIOND_MAXMEMORY": "", "SESSIOND_CONFIG": ""},
			want: defaults(nil),
		},
		{
			name: "unrelated variables ignored",
			env:  map[string]string{"SESSIOND_SOMETHING_ELSE": "x", "MAXMEMORY": "12XB"},
			want: defaults(nil),
		},
		{
			name: "version",
			args: []string{"--version"},
			// --version works even when the rest would not load.
			env:  map[string]string{"SESSIOND_MAXMEMORY": "12XB", "SESSIOND_CONFIG": "/nonexistent"},
			want: defaults(func(c *Config) { c.Version = true }),
		},
		{
			name: "version variable ignored",
			env:  map[string]string{"SESSIOND_VERSION": "1.2.3"},
			want: defaults(nil),
		},
		{
			name: "cluster flags",
			args: []string{"--cluster-addr", "10.0.0.1:7946", "--cluster-advertise", "1.2.3.4:7946", "--cluster-data-addr", "10.0.0.1:7000",
				"--join", "10.0.0.2:7946, sessiond.internal", "--join-timeout", "30s", "--node-name", "web-1", "--cluster-name", "prod",
				"--cluster-key", "MDEyMzQ1Njc4OWFiY2RlZg==", "--sync-replicas", "1", "--sync-timeout", "500ms", "--cluster-repair-interval", "10s"},
			want: defaults(func(c *Config) {
				c.Cluster = ClusterConfig{
					Addr: "10.0.0.1:7946", Advertise: "1.2.3.4:7946", DataAddr: "10.0.0.1:7000",
					Join: []string{"10.0.0.2:7946", "sessiond.internal"}, JoinTimeout: 30 * time.Second,
					NodeName: "web-1", Name: "prod", Keys: [][]byte{[]byte("0123456789abcdef")},
					SyncReplicas: 1, SyncTimeout: 500 * time.Millisecond, RepairInterval: 10 * time.Second,
				}
			}),
		},
		{
			name: "cluster env and file",
			args: []string{"--config", "$FILE"},
			env:  map[string]string{"SESSIOND_JOIN": "a:1,b:2", "SESSIOND_CLUSTER_INSECURE": "true"},
			file: "cluster-addr = \"0.0.0.0:7946\"\njoin = \"c:3\"\nnode-name = \"n1\"\n",
			want: defaults(func(c *Config) {
				c.File = "$FILE"
				c.Cluster.Addr, c.Cluster.Join, c.Cluster.NodeName, c.Cluster.Insecure = "0.0.0.0:7946", []string{"a:1", "b:2"}, "n1", true
			}),
		},
		{
			// During a key change: the first encrypts, both decrypt.
			name: "several cluster keys",
			args: []string{"--cluster-addr", "127.0.0.1:7946", "--cluster-key", " MDEyMzQ1Njc4OWFiY2RlZg==, YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY="},
			want: defaults(func(c *Config) {
				c.Cluster.Addr = "127.0.0.1:7946"
				c.Cluster.Keys = [][]byte{[]byte("0123456789abcdef"), []byte("abcdefghijklmnopqrstuvwxyz123456")}
			}),
		},
		{
			name: "cluster keys and join as arrays in the file",
			args: []string{"--config", "$FILE"},
			file: "cluster-addr = \"127.0.0.1:7946\"\ncluster-key = [\"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=\", \"MDEyMzQ1Njc4OWFiY2RlZg==\"]\njoin = [\"a:1\", \"b:2\"]\n",
			want: defaults(func(c *Config) {
				c.File = "$FILE"
				c.Cluster.Addr = "127.0.0.1:7946"
				c.Cluster.Keys = [][]byte{[]byte("abcdefghijklmnopqrstuvwxyz123456"), []byte("0123456789abcdef")}
				c.Cluster.Join = []string{"a:1", "b:2"}
			}),
		},
		{
			name: "one cluster key as a string in the file",
			args: []string{"--config", "$FILE"},
			file: "cluster-addr = \"127.0.0.1:7946\"\ncluster-key = \"MDEyMzQ1Njc4OWFiY2RlZg==\"\n",
			want: defaults(func(c *Config) {
				c.File = "$FILE"
				c.Cluster.Addr = "127.0.0.1:7946"
				c.Cluster.Keys = [][]byte{[]byte("0123456789abcdef")}
			}),
		},
		{
			name: "goroutines instead of event loops",
			args: []string{"--event-loops", "0"},
			want: defaults(func(c *Config) { c.EventLoops = 0 }),
		},
		{
			// A connection leaves its loop at its first write.
			name: "event loops with sync replicas",
			args: []string{"--event-loops", "1", "--cluster-addr", "127.0.0.1:7946", "--sync-replicas", "1"},
			want: defaults(func(c *Config) {
				c.EventLoops, c.Cluster.Addr, c.Cluster.SyncReplicas = 1, "127.0.0.1:7946", 1
			}),
		},
		{
			// A loop waits for one flush a round, as Redis's does.
			name: "event loops with appendfsync always",
			args: []string{"--event-loops", "1", "--dir", "/var/lib/sessiond", "--appendfsync", "always"},
			want: defaults(func(c *Config) {
				c.EventLoops, c.Dir, c.AppendFsync = 1, "/var/lib/sessiond", sessiond.FsyncAlways
			}),
		},
		{
			name: "memcache flags",
			args: []string{"--memcache-addr", "127.0.0.1:11211", "--memcache-unix=/run/m.sock", "--memcache-insecure"},
			want: defaults(func(c *Config) {
				c.MemcacheAddr, c.MemcacheUnix, c.MemcacheInsecure = "127.0.0.1:11211", "/run/m.sock", true
			}),
		},
		{
			name: "memcache env",
			env: map[string]string{
				"SESSIOND_MEMCACHE_ADDR":     "0.0.0.0:11211",
				"SESSIOND_MEMCACHE_UNIX":     "/tmp/m.sock",
				"SESSIOND_MEMCACHE_INSECURE": "true",
			},
			want: defaults(func(c *Config) {
				c.MemcacheAddr, c.MemcacheUnix, c.MemcacheInsecure = "0.0.0.0:11211", "/tmp/m.sock", true
			}),
		},
		{
			name: "memcache file",
			args: []string{"--config", "$FILE"},
			file: "memcache-addr = \"localhost:11211\"\nmemcache-unix = \"/var/run/m.sock\"\nmemcache-insecure = true\n",
			want: defaults(func(c *Config) {
				c.File = "$FILE"
				c.MemcacheAddr, c.MemcacheUnix, c.MemcacheInsecure = "localhost:11211", "/var/run/m.sock", true
			}),
		},
		{
			name: "memcache flag over env over file",
			args: []string{"--config", "$FILE", "--memcache-addr", "127.0.0.1:3", "--memcache-insecure=false"},
			env:  map[string]string{"SESSIOND_MEMCACHE_ADDR": "127.0.0.1:2", "SESSIOND_MEMCACHE_UNIX": "/env.sock"},
			file: "memcache-addr = \"127.0.0.1:1\"\nmemcache-unix = \"/file.sock\"\nmemcache-insecure = true\n",
			want: defaults(func(c *Config) {
				c.File = "$FILE"
				c.MemcacheAddr, c.MemcacheUnix = "127.0.0.1:3", "/env.sock"
			}),
		},
		{
			name: "protected mode off by flag",
			args: []string{"--protected-mode", "no"},
			want: defaults(func(c *Config) { c.ProtectedMode = false }),
		},
		{
			name: "protected mode off in env",
			env:  map[string]string{"SESSIOND_PROTECTED_MODE": "NO"},
			want: defaults(func(c *Config) { c.ProtectedMode = false }),
		},
		{
			name: "protected mode: flag over file",
			args: []string{"--config", "$FILE", "--protected-mode=yes"},
			file: "protected-mode = \"no\"\n",
			want: defaults(func(c *Config) { c.File = "$FILE" }),
		},
		{
			name: "protected mode off in file, as a boolean",
			args: []string{"--config", "$FILE"},
			file: "protected-mode = false\n",
			want: defaults(func(c *Config) { c.File = "$FILE"; c.ProtectedMode = false }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, path, err := load(t, tt.args, tt.env, tt.file)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			tt.want.File = strings.ReplaceAll(tt.want.File, "$FILE", path)
			got.texts = nil // TestSettingTexts
			got.given = nil // TestClusterOnly
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("loadConfig =\n%+v, want\n%+v", *got, tt.want)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		wantErr string // the whole message; $FILE is the file's path
		prefix  bool   // wantErr is only the message's start
		is      error  // if not nil, the error wraps it
	}{
		{
			name:    "bad size in env",
			env:     map[string]string{"SESSIOND_MAXMEMORY": "12XB"},
			wantErr: `config: maxmemory "12XB" (from SESSIOND_MAXMEMORY): unknown unit`,
			is:      errUnknownUnit,
		},
		{
			// The keys are secrets: the error names a key by its place.
			name:    "cluster key not base64",
			args:    []string{"--cluster-key", "not base64!"},
			wantErr: `config: cluster-key (hidden) (from --cluster-key): key 1 of 1: want base64 (openssl rand -base64 32)`,
		},
		{
			name:    "cluster key of the wrong size",
			env:     map[string]string{"SESSIOND_CLUSTER_KEY": "MDEyMzQ1Njc4OWFiY2RlZg==,c2hvcnQ="},
			wantErr: `config: cluster-key (hidden) (from SESSIOND_CLUSTER_KEY): key 2 of 2: 5 bytes: want 16, 24 or 32`,
		},
		{
			name:    "too many cluster keys",
			args:    []string{"--cluster-key", strings.Repeat("MDEyMzQ1Njc4OWFiY2RlZg==,", 9)},
			wantErr: `config: cluster-key (hidden) (from --cluster-key): 9 keys: at most 8 (a rotation needs two)`,
		},
		{
			name:    "cluster key array of another type",
			args:    []string{"--config", "$FILE"},
			file:    "cluster-key = [\"MDEyMzQ1Njc4OWFiY2RlZg==\", 7]\n",
			wantErr: `config: cluster-key (hidden) (from $FILE): want an array of strings without commas`,
		},
		{
			name:    "cluster key array element of the wrong size",
			args:    []string{"--config", "$FILE"},
			file:    "cluster-key = [\"MDEyMzQ1Njc4OWFiY2RlZg==\", \"c2hvcnQ=\"]\n",
			wantErr: `config: cluster-key (hidden) (from $FILE): key 2 of 2: 5 bytes: want 16, 24 or 32`,
		},
		{
			name:    "array for a setting of one value",
			args:    []string{"--config", "$FILE"},
			file:    "addr = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n",
			wantErr: `config: addr "127.0.0.1:1,127.0.0.1:2" (from $FILE): want a string, an integer or a boolean`,
		},
		{
			name:    "bad protected mode",
			args:    []string{"--protected-mode", "maybe"},
			wantErr: `config: protected-mode "maybe" (from --protected-mode): want yes or no`,
		},
		{
			name:    "bad sync timeout",
			args:    []string{"--sync-timeout", "0"},
			wantErr: `config: sync-timeout "0" (from --sync-timeout): want a positive duration such as 500ms, 2s or 1m`,
		},
		{
			name:    "bad size in flag",
			args:    []string{"--max-value-size", "1.5mb"},
			wantErr: `config: max-value-size "1.5mb" (from --max-value-size): unknown unit`,
			is:      errUnknownUnit,
		},
		{
			name:    "size overflows",
			args:    []string{"--maxmemory=99999999999gb"},
			wantErr: `config: maxmemory "99999999999gb" (from --maxmemory): too large (at most 9223372036854775807 bytes)`,
			is:      errTooLarge,
		},
		{
			name:    "value size past the store's limit",
			env:     map[string]string{"SESSIOND_MAX_VALUE_SIZE": "2gb"},
			wantErr: `config: max-value-size "2gb" (from SESSIOND_MAX_VALUE_SIZE): too large (at most 2147483647 bytes)`,
			is:      errTooLarge,
		},
		{
			name:    "bad size in file",
			args:    []string{"--config", "$FILE"},
			file:    "maxmemory = \"lots\"\n",
			wantErr: `config: maxmemory "lots" (from $FILE): ` + errNotSize.Error(),
			is:      errNotSize,
		},
		{
			name:    "negative size in file",
			args:    []string{"--config", "$FILE"},
			file:    "maxmemory = -1\n",
			wantErr: `config: maxmemory "-1" (from $FILE): ` + errNotSize.Error(),
			is:      errNotSize,
		},
		{
			name:    "bad boolean in env",
			env:     map[string]string{"SESSIOND_MEMCACHE_INSECURE": "maybe"},
			wantErr: `config: memcache-insecure "maybe" (from SESSIOND_MEMCACHE_INSECURE): want true or false`,
		},
		{
			name:    "bad user field",
			args:    []string{"--user-field", "passport..user"},
			wantErr: `config: user-field "passport..user" (from --user-field): `,
			prefix:  true,
		},
		{
			name:    "bad policy in flag",
			args:    []string{"--maxmemory-policy", "lru"},
			wantErr: `config: maxmemory-policy "lru" (from --maxmemory-policy): unknown policy (want noeviction, volatile-ttl or allkeys-lru)`,
		},
		{
			name:    "bad policy in env",
			env:     map[string]string{"SESSIOND_MAXMEMORY_POLICY": "allkeys-lfu"},
			wantErr: `config: maxmemory-policy "allkeys-lfu" (from SESSIOND_MAXMEMORY_POLICY): unknown policy (want noeviction, volatile-ttl or allkeys-lru)`,
		},
		{
			name:    "flag checked even when env is bad too",
			args:    []string{"--shards", "-1"},
			env:     map[string]string{"SESSIOND_SHARDS": "8"},
			wantErr: `config: shards "-1" (from --shards): out of range (want 0 to 65536)`,
			is:      errOutOfRange,
		},
		{
			name:    "shards not a number",
			env:     map[string]string{"SESSIOND_SHARDS": "many"},
			wantErr: `config: shards "many" (from SESSIOND_SHARDS): not an integer`,
			is:      errNotInt,
		},
		{
			name:    "bad log format",
			args:    []string{"--log-format", "xml"},
			wantErr: `config: log-format "xml" (from --log-format): want text or json`,
		},
		{
			name:    "bad log level",
			env:     map[string]string{"SESSIOND_LOG_LEVEL": "verbose"},
			wantErr: `config: log-level "verbose" (from SESSIOND_LOG_LEVEL): want debug, info, warn or error`,
		},
		{
			name:    "unknown key in file",
			args:    []string{"--config", "$FILE"},
			file:    "maxmemory = \"1gb\"\nmaxmemroy = \"2gb\"\n",
			wantErr: `config: unknown key "maxmemroy" (in $FILE)`,
		},
		{
			name:    "unknown keys and tables in file",
			args:    []string{"--config", "$FILE"},
			file:    "max_memory = 1\n[server]\naddr = \":6379\"\n",
			wantErr: `config: unknown keys "max_memory", "server" (in $FILE)`,
		},
		{
			name:    "wrong type in file",
			args:    []string{"--config", "$FILE"},
			file:    "shards = [1, 2]\n",
			wantErr: `config: shards "[1 2]" (from $FILE): want a string, an integer or a boolean`,
		},
		{
			name:    "config in file",
			args:    []string{"--config", "$FILE"},
			file:    "config = \"/etc/other.toml\"\n",
			wantErr: `config: config "/etc/other.toml" (from $FILE): cannot be set in a config file`,
			is:      errNotInFile,
		},
		{
			name:    "version in file",
			args:    []string{"--config", "$FILE"},
			file:    "version = true\n",
			wantErr: `config: version "true" (from $FILE): cannot be set in a config file`,
			is:      errNotInFile,
		},
		{
			name:    "missing file from env",
			env:     map[string]string{"SESSIOND_CONFIG": "/nonexistent/sessiond.toml"},
			wantErr: `config: config "/nonexistent/sessiond.toml" (from SESSIOND_CONFIG): no such file or directory`,
			is:      os.ErrNotExist,
		},
		{
			name:    "missing file from flag",
			args:    []string{"--config", "/nonexistent/sessiond.toml"},
			wantErr: `config: config "/nonexistent/sessiond.toml" (from --config): no such file or directory`,
			is:      os.ErrNotExist,
		},
		{
			name:    "file not TOML",
			args:    []string{"--config", "$FILE"},
			file:    "maxmemory: 1gb\n",
			wantErr: `config: $FILE: toml: line 1`, // then the toml package's words
			prefix:  true,
		},
		{
			name:    "unknown flag",
			args:    []string{"--maxmem", "1gb"},
			wantErr: `unknown flag --maxmem; see sessiond --help`,
		},
		{
			name:    "flag without value",
			args:    []string{"--maxmemory"},
			wantErr: `flag --maxmemory needs a value; see sessiond --help`,
		},
		{
			name:    "unknown flag with a value and one dash",
			args:    []string{"-maxmem=1gb"},
			wantErr: `unknown flag --maxmem; see sessiond --help`,
		},
		{
			name:    "sync replicas without a cluster",
			args:    []string{"--sync-replicas", "1"},
			wantErr: `config: sync-replicas waits for cluster peers, and cluster-addr is not set (a single server has none)`,
		},
		{
			name:    "sync replicas without a cluster, from the environment",
			env:     map[string]string{"SESSIOND_SYNC_REPLICAS": "2", "SESSIOND_JOIN": "127.0.0.1:7946"},
			wantErr: `config: sync-replicas waits for cluster peers, and cluster-addr is not set (a single server has none)`,
		},
		{
			name:    "join without a cluster address",
			args:    []string{"--join", "10.0.0.2:7946"},
			wantErr: `config: join needs cluster-addr, the address this node gossips on (without it, sessiond is a single server)`,
		},
		{
			name:    "argument",
			args:    []string{"--shards", "4", "serve"},
			wantErr: `config: unexpected argument "serve" (sessiond takes only flags)`,
		},
		{
			name:    "bad version flag",
			args:    []string{"--version=maybe"},
			wantErr: `config: version "maybe" (from --version): strconv.ParseBool: parsing "maybe": invalid syntax`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, path, err := load(t, tt.args, tt.env, tt.file)
			if err == nil {
				t.Fatalf("loadConfig = %+v, want error %q", *got, tt.wantErr)
			}
			want := strings.ReplaceAll(tt.wantErr, "$FILE", path)
			if err.Error() != want && !(tt.prefix && strings.HasPrefix(err.Error(), want)) {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has more than one line: %q", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %q", err, tt.is)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		if _, err := loadConfig([]string{arg}, noEnv); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("loadConfig(%s) error = %v, want flag.ErrHelp", arg, err)
		}
	}

	var help bytes.Buffer
	printUsage(&help)
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !strings.Contains(help.String(), "-"+s.name) {
			t.Errorf("help does not list -%s:\n%s", s.name, help.String())
		}
		if s.from&fromEnv != 0 && !strings.Contains(help.String(), envName(s.name)) {
			t.Errorf("help does not name %s:\n%s", envName(s.name), help.String())
		}
		if !strings.Contains(string(doc), "--"+s.name+" ") {
			t.Errorf("the package doc in doc.go does not list --%s", s.name)
		}
	}
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"maxmemory":        "SESSIOND_MAXMEMORY",
		"maxmemory-policy": "SESSIOND_MAXMEMORY_POLICY",
		"max-value-size":   "SESSIOND_MAX_VALUE_SIZE",
	}
	for name, want := range tests {
		if got := envName(name); got != want {
			t.Errorf("envName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestDefaultsParse(t *testing.T) {
	// loadConfig panics on a default its own setter refuses; make the
	// panic a test failure with a name instead.
	for _, s := range settings {
		if err := s.set(new(Config), s.def); err != nil {
			t.Errorf("default of %s %q: %v", s.name, s.def, err)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

// TestSettingTexts: what CONFIG GET is given is every setting's text from
// the source that won (flag over variable over file over default), with
// the cluster key hidden, booleans as yes or no, and --version left out.
func TestSettingTexts(t *testing.T) {
	c, _, err := load(t, []string{"--config", "$FILE", "--maxmemory", "2gb", "--cluster-addr", "127.0.0.1:7946", "--cluster-key", "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=", "--dir-repair"},
		map[string]string{"SESSIOND_EVENT_LOOPS": "0", "SESSIOND_MAXMEMORY": "1gb"},
		"tombstone-ttl = \"2h\"\nevent-loops = 2\n")
	if err != nil {
		t.Fatal(err)
	}
	got := c.settingTexts()
	want := map[string]string{
		"maxmemory":      "2gb",      // flag over variable
		"event-loops":    "0",        // variable over file
		"tombstone-ttl":  "2h",       // file over default
		"appendfsync":    "everysec", // default
		"cluster-key":    "(hidden)",
		"requirepass":    "",
		"protected-mode": "yes",
		"dir-repair":     "yes", // a boolean reads as Redis's do
		"http-pprof":     "no",
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("settingTexts()[%q] = %q, %v; want %q", name, g, ok, w)
		}
	}
	if _, ok := got["version"]; ok {
		t.Error("settingTexts() has version, a flag that is not a setting")
	}
	for _, s := range settings {
		if _, ok := got[s.name]; !ok && s.name != "version" {
			t.Errorf("settingTexts() has no %s", s.name)
		}
	}
}

// TestClusterOnly: a cluster setting given without --cluster-addr, from
// any source, is a config error naming it, not a setting silently
// ignored; with --cluster-addr it is taken.
func TestClusterOnly(t *testing.T) {
	for _, name := range clusterOnly {
		value := map[string]string{
			"cluster-advertise": "10.0.0.1:7946", "cluster-data-addr": "127.0.0.1:7947", "join-timeout": "5s",
			"node-name": "n1", "cluster-name": "c", "cluster-key": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=",
			"cluster-insecure": "true", "cluster-expect": "3", "sync-timeout": "1s", "cluster-repair-interval": "10s",
		}[name]
		if value == "" {
			t.Fatalf("no test value for %s", name)
		}
		flag := []string{"--" + name + "=" + value}
		_, _, err := load(t, flag, nil, "")
		want := "config: " + name + " is a cluster setting, and cluster-addr is not set (without it, sessiond is a single server)"
		if err == nil || err.Error() != want {
			t.Errorf("--%s %s alone: %v, want %q", name, value, err, want)
		}
		if _, _, err := load(t, nil, map[string]string{envName(name): value}, ""); err == nil {
			t.Errorf("%s=%s alone: no error", envName(name), value)
		}
		if _, _, err := load(t, append([]string{"--cluster-addr", "127.0.0.1:7946"}, flag...), nil, ""); err != nil {
			t.Errorf("--%s %s with --cluster-addr: %v", name, value, err)
		}
	}
}

// mustPaths parses a --user-field spec.
func mustPaths(spec string) []jsonpath.Path {
	p, err := jsonpath.Parse(spec)
	if err != nil {
		panic(err)
	}
	return p
}
