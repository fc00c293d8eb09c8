package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/certs"
	"github.com/sessiond/sessiond/internal/jsonpath"
)

// Config is the binary's configuration once every source has been applied.
// loadConfig builds it; nothing else reads flags, the environment or the
// file.
type Config struct {
	// File is the TOML file settings were read from. Default: none.
	File string

	// texts are the settings' values as the winning source wrote them
	// (flag, variable, file or default), by name: what CONFIG GET
	// answers for the settings the server does not name itself.
	texts map[string]string
	// given are the settings a flag, a variable or the file gave, by
	// name: not left at their defaults.
	given map[string]bool

	// MaxMemory caps the store's memory, in bytes. Default 0: no cap.
	MaxMemory int64

	// Policy applies when a write would pass MaxMemory. Default noeviction.
	Policy sessiond.Policy

	// MaxValueSize is the longest value the store accepts, in bytes.
	// Default 1 MiB.
	MaxValueSize int

	// Shards is the store's number of partitions. Default 0: the store's
	// own default.
	Shards int

	// UserField is where a JSON session's user id is found, for the
	// user index (SESSION.LIST, SESSION.REVOKE). Default passport.user;
	// no paths: no index.
	UserField []jsonpath.Path

	// LogFormat is "text" (the default) or "json".
	LogFormat string

	// LogLevel is the least level logged. Default info.
	LogLevel slog.Level

	// Addr is the TCP address of the Redis protocol listener. Default
	// 127.0.0.1:6379; empty disables it.
	Addr string

	// Unix is the path of a Unix socket for the Redis protocol. Default:
	// none.
	Unix string

	// UnixPerm is the Unix socket's permission bits. Default 0600.
	UnixPerm os.FileMode

	// MemcacheAddr is the TCP address of the memcached protocol
	// listener. Default: none.
	MemcacheAddr string

	// MemcacheUnix is the path of a Unix socket for the memcached
	// protocol. Default: none.
	MemcacheUnix string

	// MemcacheInsecure allows a non-loopback MemcacheAddr with a
	// RequirePass. Default false.
	MemcacheInsecure bool

	// RequirePass is the password clients must give. Default: none.
	RequirePass string

	// ProtectedMode refuses clients from other hosts while RequirePass is
	// empty, as Redis's protected-mode. Default true.
	ProtectedMode bool

	// MaxClients is the most connections at once. Default 10000.
	MaxClients int

	// SlowlogSlowerThan is how long a command takes to go in the slow
	// log (server.Config's meaning: 1ns logs every command, negative
	// none). Default 10 ms.
	SlowlogSlowerThan time.Duration
	// SlowlogMaxLen is the most entries the slow log keeps. Default 128.
	SlowlogMaxLen int
	// LatencyMonitorThreshold is how long a command takes for the
	// latency monitor to record it. Default 0: off.
	LatencyMonitorThreshold time.Duration

	// TLSAddr is the TCP address of the Redis protocol over TLS, with
	// TLS's files. Default: none.
	TLSAddr string
	TLS     certs.Files

	// HTTPAddr is the TCP address of the HTTP listener for operators
	// (metrics, health checks). Default: none.
	HTTPAddr string

	// HTTPPprof serves /debug/pprof/ on HTTPAddr. Default false.
	HTTPPprof bool

	// EventLoops is the number of event loops serving RESP connections
	// (Linux; see server.Config.EventLoops). Default 1; 0: a goroutine per
	// connection, as on other systems.
	EventLoops int

	// Timeout closes idle connections after it. Default 0: never.
	Timeout time.Duration

	// Version asks for the version to be printed instead of running.
	Version bool

	// Dir is the data directory. Default: none, sessions in memory only.
	Dir string

	// AppendFsync is the log's fsync policy. Default everysec.
	AppendFsync sessiond.FsyncPolicy

	// CompactMinSize is the least log size that starts a compaction by
	// itself. Default 64mb.
	CompactMinSize int64

	// DirRepair loads a damaged data directory as far as it can. Default
	// false.
	DirRepair bool

	// TombstoneTTL is the least time a cluster node keeps a delete's
	// tombstone, and the age past which its data directory is set aside
	// at start. Default 24h.
	TombstoneTTL time.Duration

	// Cluster configures clustering; ClusterAddr empty means none.
	Cluster ClusterConfig
}

// ClusterConfig is the cluster part of Config (package cluster's Config,
// as the flags give it).
type ClusterConfig struct {
	Addr, Advertise, DataAddr string
	Join                      []string
	JoinTimeout               time.Duration
	NodeName, Name            string
	Keys                      [][]byte
	Insecure                  bool
	SyncReplicas              int
	SyncTimeout               time.Duration
	RepairInterval            time.Duration
	Expect                    int // 0: from Join (cluster.Config.Expect)
}

// storeOptions returns the store's options for c.
func (c *Config) storeOptions() *sessiond.Options {
	return &sessiond.Options{
		MaxMemory:    c.MaxMemory,
		Policy:       c.Policy,
		MaxValueSize: c.MaxValueSize,
		Shards:       c.Shards,
		Dir:          c.Dir,
		Fsync:        c.AppendFsync,
		// The server commits once per batch of a connection's commands,
		// before their replies (server.Server.commitReplies).
		DeferWrites:    true,
		CompactMinSize: c.CompactMinSize,
		Repair:         c.DirRepair,
		TombstoneTTL:   c.TombstoneTTL,
		UserID:         userID(c.UserField),
	}
}

// userID returns the store's Options.UserID for the paths of --user-field:
// the id at the first path that has one, read by internal/jsonpath, and
// nil (no index) for no paths. An empty id names no user.
func userID(paths []jsonpath.Path) func([]byte) ([]byte, bool) {
	if len(paths) == 0 {
		return nil
	}
	return func(value []byte) ([]byte, bool) {
		id, ok := jsonpath.Lookup(value, paths)
		return id, ok && len(id) > 0
	}
}

// listens reports whether c asks for any listener.
func (c *Config) listens() bool {
	return c.Addr != "" || c.Unix != "" || c.MemcacheAddr != "" || c.MemcacheUnix != "" || c.TLSAddr != ""
}

// Where a setting may come from. Flags are always allowed.
const (
	fromEnv = 1 << iota
	fromFile

	fromAll = fromEnv | fromFile
)

// A setting is one configurable value: a flag, its environment variable
// and its key in the config file, all spelled from name.
type setting struct {
	name   string // flag name and file key; the variable is envName(name)
	def    string // default, in the same text a user would write
	usage  string // for --help; a `quoted` word names the argument
	from   int    // fromEnv, fromFile: the sources besides flags
	isBool bool   // a boolean flag: --name alone means true
	list   bool   // a comma-separated list; the file may give an array
	set    func(c *Config, text string) error
}

// settings is every setting the binary has. Adding one is one entry here
// (and a line in the package doc). The table is read-only.
var settings = []setting{
	{name: "config", usage: "read settings from the TOML `file`", from: fromEnv,
		set: func(c *Config, s string) error { c.File = s; return nil }},
	{name: "maxmemory", def: "0", usage: "cap the store's memory at `size` (0: no cap)", from: fromAll,
		set: func(c *Config, s string) (err error) { c.MaxMemory, err = parseSize(s, math.MaxInt64); return err }},
	{name: "maxmemory-policy", def: "noeviction", usage: "`policy` at maxmemory: noeviction, volatile-ttl or allkeys-lru", from: fromAll,
		set: func(c *Config, s string) (err error) { c.Policy, err = parsePolicy(s); return err }},
	{name: "max-value-size", def: "1mb", usage: "refuse values longer than `size`", from: fromAll,
		set: func(c *Config, s string) (err error) {
			n, err := parseSize(s, maxValueSize)
			c.MaxValueSize = int(n)
			return err
		}},
	{name: "shards", def: "0", usage: "split the store into `n` locked partitions (0: the store's default)", from: fromAll,
		set: func(c *Config, s string) (err error) { c.Shards, err = parseInt(s, 0, maxShards); return err }},
	{name: "user-field", def: "passport.user", from: fromAll,
		usage: "file JSON sessions under the user id at `paths` (comma-separated, dotted; empty: no user index)",
		set:   func(c *Config, s string) (err error) { c.UserField, err = jsonpath.Parse(s); return err }},
	{name: "dir", usage: "keep sessions across restarts in the data directory at `path` (empty: in memory only)", from: fromAll,
		set: func(c *Config, s string) error { c.Dir = s; return nil }},
	{name: "appendfsync", def: "everysec", usage: "flush the --dir log to disk: always, everysec or no (`policy`)", from: fromAll,
		set: func(c *Config, s string) (err error) { c.AppendFsync, err = parseFsync(s); return err }},
	{name: "auto-aof-rewrite-min-size", def: "64mb", usage: "compact the --dir log into a snapshot once it passes `size` and the last snapshot's size", from: fromAll,
		set: func(c *Config, s string) (err error) { c.CompactMinSize, err = parseSize(s, math.MaxInt64); return err }},
	{name: "dir-repair", def: "false", isBool: true, from: fromAll,
		usage: "load a damaged --dir as far as it can: cut a log at its damage, keeping a copy of what is cut",
		set:   func(c *Config, s string) (err error) { c.DirRepair, err = parseBool(s); return err }},
	{name: "addr", def: "127.0.0.1:6379", usage: "serve the Redis protocol on TCP `host:port` (empty: no TCP)", from: fromAll,
		set: func(c *Config, s string) error { c.Addr = s; return nil }},
	{name: "unix", usage: "also serve the Redis protocol on the Unix socket at `path`", from: fromAll,
		set: func(c *Config, s string) error { c.Unix = s; return nil }},
	{name: "unix-perm", def: "0600", usage: "permission `bits` of the Unix socket, in octal", from: fromAll,
		set: func(c *Config, s string) error {
			n, err := strconv.ParseUint(s, 8, 32)
			if err != nil || n > 0o777 {
				return errors.New("want octal permission bits such as 0600 or 0660")
			}
			c.UnixPerm = os.FileMode(n)
			return nil
		}},
	{name: "memcache-addr", usage: "serve the memcached text protocol on TCP `host:port` (empty: not at all)", from: fromAll,
		set: func(c *Config, s string) error { c.MemcacheAddr = s; return nil }},
	{name: "memcache-unix", usage: "serve the memcached text protocol on the Unix socket at `path`", from: fromAll,
		set: func(c *Config, s string) error { c.MemcacheUnix = s; return nil }},
	{name: "memcache-insecure", def: "false", isBool: true, from: fromAll,
		usage: "serve the memcached protocol on a non-loopback address even with --requirepass (it has no authentication)",
		set:   func(c *Config, s string) (err error) { c.MemcacheInsecure, err = parseBool(s); return err }},
	{name: "requirepass", usage: "require clients to AUTH with `password`", from: fromAll,
		set: func(c *Config, s string) error { c.RequirePass = s; return nil }},
	{name: "protected-mode", def: "yes", from: fromAll,
		usage: "with no --requirepass, serve only clients on a loopback address or a Unix socket, as Redis does: yes or no (`mode`)",
		set: func(c *Config, s string) error {
			switch strings.ToLower(s) {
			case "yes", "true":
				c.ProtectedMode = true
			case "no", "false":
				c.ProtectedMode = false
			default:
				return errors.New("want yes or no")
			}
			return nil
		}},
	{name: "http-addr", usage: "serve operators over HTTP on `host:port`: the status page (/), /metrics (Prometheus), /healthz, /readyz (empty: not at all)", from: fromAll,
		set: func(c *Config, s string) error { c.HTTPAddr = s; return nil }},
	{name: "http-pprof", def: "false", isBool: true, from: fromAll,
		usage: "also serve Go's profiler on --http-addr, at /debug/pprof/",
		set:   func(c *Config, s string) (err error) { c.HTTPPprof, err = parseBool(s); return err }},
	{name: "tls-addr", usage: "serve the Redis protocol over TLS on `host:port`, with --tls-cert-file and --tls-key-file (empty: no TLS)", from: fromAll,
		set: func(c *Config, s string) error { c.TLSAddr = s; return nil }},
	{name: "tls-cert-file", usage: "the TLS listener's certificate: a PEM `file`, intermediates after it; reloaded when it changes", from: fromAll,
		set: func(c *Config, s string) error { c.TLS.Cert = s; return nil }},
	{name: "tls-key-file", usage: "the PEM `file` of the TLS certificate's private key; reloaded when it changes", from: fromAll,
		set: func(c *Config, s string) error { c.TLS.Key = s; return nil }},
	{name: "tls-ca-cert-file", usage: "require TLS clients to present a certificate signed by a CA of this PEM `file` (mutual TLS); reloaded when it changes", from: fromAll,
		set: func(c *Config, s string) error { c.TLS.CA = s; return nil }},
	{name: "maxclients", def: "10000", usage: "serve at most `n` connections at once", from: fromAll,
		set: func(c *Config, s string) (err error) { c.MaxClients, err = parseInt(s, 1, 1<<20); return err }},
	{name: "slowlog-log-slower-than", def: "10000", usage: "log commands that take at least `microseconds` in the slow log (SLOWLOG GET; 0: every command, -1: none)", from: fromAll,
		set: func(c *Config, s string) error {
			n, err := parseInt(s, math.MinInt32, math.MaxInt32)
			switch {
			case n < 0:
				c.SlowlogSlowerThan = -1
			case n == 0:
				c.SlowlogSlowerThan = time.Nanosecond // every command
			default:
				c.SlowlogSlowerThan = time.Duration(n) * time.Microsecond
			}
			return err
		}},
	{name: "slowlog-max-len", def: "128", usage: "keep the latest `n` commands in the slow log", from: fromAll,
		set: func(c *Config, s string) (err error) { c.SlowlogMaxLen, err = parseInt(s, 1, 1<<20); return err }},
	{name: "latency-monitor-threshold", def: "0", usage: "record commands that take at least `milliseconds` for LATENCY LATEST and HISTORY (0: off)", from: fromAll,
		set: func(c *Config, s string) error {
			n, err := parseInt(s, 0, 1<<31-1)
			c.LatencyMonitorThreshold = time.Duration(n) * time.Millisecond
			return err
		}},
	{name: "event-loops", def: "1", usage: "serve RESP connections from `n` event loops, as Redis does (Linux; 0: a goroutine per connection, as elsewhere; with --sync-replicas, a connection leaves its loop at its first write)", from: fromAll,
		set: func(c *Config, s string) (err error) { c.EventLoops, err = parseInt(s, 0, 1024); return err }},
	{name: "timeout", def: "0", usage: "close connections idle for `seconds` (0: never)", from: fromAll,
		set: func(c *Config, s string) error {
			n, err := parseInt(s, 0, 1<<31-1)
			c.Timeout = time.Duration(n) * time.Second
			return err
		}},
	{name: "log-format", def: "text", usage: "log `format`: text or json", from: fromAll,
		set: func(c *Config, s string) (err error) { c.LogFormat, err = parseChoice(s, "text", "json"); return err }},
	{name: "log-level", def: "info", usage: "log from `level` up: debug, info, warn or error", from: fromAll,
		set: func(c *Config, s string) (err error) { c.LogLevel, err = parseLevel(s); return err }},
	{name: "cluster-addr", usage: "join a cluster: gossip on `host:port` (empty: a single server)", from: fromAll,
		set: func(c *Config, s string) error { c.Cluster.Addr = s; return nil }},
	{name: "cluster-advertise", usage: "gossip `host:port` peers should use, if not --cluster-addr (NAT, 0.0.0.0)", from: fromAll,
		set: func(c *Config, s string) error { c.Cluster.Advertise = s; return nil }},
	{name: "cluster-data-addr", usage: "accept peers' data streams on `host:port` (default: --cluster-addr's host, port + 1)", from: fromAll,
		set: func(c *Config, s string) error { c.Cluster.DataAddr = s; return nil }},
	{name: "join", list: true, usage: "join the cluster through these comma-separated `peers` (host:port or DNS names; every address of a name)", from: fromAll,
		set: func(c *Config, s string) error { c.Cluster.Join = splitList(s); return nil }},
	{name: "join-timeout", def: "1m", usage: "give up joining after `duration`, retrying with backoff until then", from: fromAll,
		set: func(c *Config, s string) (err error) { c.Cluster.JoinTimeout, err = parseDuration(s); return err }},
	{name: "node-name", usage: "this node's unique `name` in the cluster (default: the host name)", from: fromAll,
		set: func(c *Config, s string) error { c.Cluster.NodeName = s; return nil }},
	{name: "cluster-name", def: "sessiond", usage: "the cluster's `name`: nodes of another cluster are refused", from: fromAll,
		set: func(c *Config, s string) error { c.Cluster.Name = s; return nil }},
	{name: "cluster-key", list: true, from: fromAll,
		usage: "comma-separated base64 `keys` of 16, 24 or 32 bytes that encrypt and authenticate gossip and data streams: the first encrypts, every one decrypts (a rolling key change)",
		set:   func(c *Config, s string) (err error) { c.Cluster.Keys, err = parseKeys(s); return err }},
	{name: "cluster-insecure", def: "false", isBool: true, from: fromAll,
		usage: "allow non-loopback cluster addresses without --cluster-key (anyone who reaches them reads every session)",
		set:   func(c *Config, s string) (err error) { c.Cluster.Insecure, err = parseBool(s); return err }},
	{name: "cluster-expect", def: "0", usage: "the cluster should have `n` members, this node included: INFO's cluster_state is degraded while fewer are alive (0: one per distinct --join address that is not this node's, plus this node)", from: fromAll,
		set: func(c *Config, s string) (err error) { c.Cluster.Expect, err = parseInt(s, 0, 1<<16); return err }},
	{name: "sync-replicas", def: "0", usage: "acknowledge a write only after `k` peers applied it (0: asynchronous)", from: fromAll,
		set: func(c *Config, s string) (err error) { c.Cluster.SyncReplicas, err = parseInt(s, 0, 1000); return err }},
	{name: "sync-timeout", def: "2s", usage: "fail a write whose --sync-replicas did not apply it within `duration`", from: fromAll,
		set: func(c *Config, s string) (err error) { c.Cluster.SyncTimeout, err = parseDuration(s); return err }},
	{name: "tombstone-ttl", def: "24h", usage: "keep a delete's tombstone at least `duration` in a cluster; a --dir older than that is set aside at start (the same on every node)", from: fromAll,
		set: func(c *Config, s string) (err error) {
			c.TombstoneTTL, err = parseDuration(s)
			if err == nil && c.TombstoneTTL <= 0 {
				err = errors.New("want a positive duration")
			}
			return err
		}},
	{name: "cluster-repair-interval", def: "5s", usage: "compare digests with a peer and exchange what differs every `duration`", from: fromAll,
		set: func(c *Config, s string) (err error) { c.Cluster.RepairInterval, err = parseDuration(s); return err }},
	// --version is an action, not a setting: an environment variable or a
	// file key left behind must not turn the server into a version printer.
	{name: "version", def: "false", usage: "print the version and exit", isBool: true,
		set: func(c *Config, s string) (err error) { c.Version, err = strconv.ParseBool(s); return err }},
}

// Limits the store enforces too (sessiond.Open refuses more); checking them
// here makes a value past them a config error that names its source.
const (
	maxShards    = 1 << 16
	maxValueSize = math.MaxInt32
)

// envName returns the environment variable for a setting:
// SESSIOND_MAXMEMORY_POLICY for maxmemory-policy.
func envName(name string) string {
	return "SESSIOND_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// A settingError is a value that a setting did not accept. It names the
// key, the value and where the value came from, so that the one line a user
// sees is enough to fix it.
type settingError struct {
	key    string
	value  string
	source string // "--maxmemory", "SESSIOND_MAXMEMORY" or a file's path
	err    error
}

func (e *settingError) Error() string {
	value := strconv.Quote(e.value)
	if hiddenSettings[e.key] {
		value = "(hidden)" // a secret has no place in a log, right or wrong
	}
	return fmt.Sprintf("config: %s %s (from %s): %v", e.key, value, e.source, e.err)
}

func (e *settingError) Unwrap() error { return e.err }

// errNotInFile is the error for a file key that names a setting only a flag
// or the environment may set.
var errNotInFile = errors.New("cannot be set in a config file")

// loadConfig builds the configuration from the command-line arguments
// (without the program name), the environment as lookupEnv sees it, and the
// file that --config or SESSIOND_CONFIG names. Flags override the
// environment, which overrides the file, which overrides the defaults.
//
// For -h or --help it returns flag.ErrHelp; printUsage writes the help.
func loadConfig(args []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	flags, err := parseFlags(args)
	if err != nil {
		return nil, err
	}
	return configure(flags, lookupEnv)
}

// configure is loadConfig once the flags are parsed: flags holds the text
// of each flag given, by setting name.
func configure(flags map[string]string, lookupEnv func(string) (string, bool)) (*Config, error) {
	c := new(Config)
	for _, s := range settings {
		if err := c.set(&s, s.def); err != nil {
			panic(fmt.Sprintf("sessiond: default of %s: %v", s.name, err)) // a bug in the table
		}
	}

	// --version must work whatever else is broken.
	if text, ok := flags["version"]; ok {
		if err := apply(c, "version", text, "--version"); err != nil || c.Version {
			return c, err
		}
	}

	env := make(map[string]string)
	for _, s := range settings {
		if s.from&fromEnv == 0 {
			continue
		}
		// An empty variable counts as unset, as it does for most tools,
		// so that a compose file's SESSIOND_X=${X} with X unset is harmless.
		if v, ok := lookupEnv(envName(s.name)); ok && v != "" {
			env[s.name] = v
		}
	}

	file, fileSource := env["config"], envName("config")
	if v, ok := flags["config"]; ok {
		file, fileSource = v, "--config"
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			var pathErr *os.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err // the settingError names the path
			}
			return nil, &settingError{key: "config", value: file, source: fileSource, err: err}
		}
		if err := applyFile(c, file, data); err != nil {
			return nil, err
		}
	}

	for _, s := range settings {
		if v, ok := env[s.name]; ok {
			if err := apply(c, s.name, v, envName(s.name)); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range settings {
		if v, ok := flags[s.name]; ok {
			if err := apply(c, s.name, v, "--"+s.name); err != nil {
				return nil, err
			}
		}
	}
	if c.HTTPPprof && c.HTTPAddr == "" {
		return nil, errors.New("config: http-pprof serves on the HTTP listener, and http-addr is not set")
	}
	if err := c.checkTLS(); err != nil {
		return nil, err
	}
	if c.Cluster.SyncReplicas > 0 && c.Cluster.Addr == "" {
		return nil, errors.New("config: sync-replicas waits for cluster peers, and cluster-addr is not set (a single server has none)")
	}
	if len(c.Cluster.Join) > 0 && c.Cluster.Addr == "" {
		return nil, errors.New("config: join needs cluster-addr, the address this node gossips on (without it, sessiond is a single server)")
	}
	if c.Cluster.Addr == "" {
		for _, name := range clusterOnly {
			if c.given[name] {
				return nil, fmt.Errorf("config: %s is a cluster setting, and cluster-addr is not set (without it, sessiond is a single server)", name)
			}
		}
	}
	return c, nil
}

// clusterOnly are the settings that mean something only with
// cluster-addr: given without it, they are a config error rather than
// ignored, since whoever gave them expects a cluster.
var clusterOnly = []string{"cluster-advertise", "cluster-data-addr", "join-timeout", "node-name", "cluster-name",
	"cluster-key", "cluster-insecure", "cluster-expect", "sync-timeout", "cluster-repair-interval"}

// apply sets the named setting in c from text, and names the source if the
// text is bad.
func apply(c *Config, name, text, source string) error {
	if err := c.set(lookup(name), text); err != nil {
		return &settingError{key: name, value: text, source: source, err: err}
	}
	if c.given == nil {
		c.given = map[string]bool{}
	}
	c.given[name] = true
	return nil
}

// set sets s in c from text and keeps the text.
func (c *Config) set(s *setting, text string) error {
	if err := s.set(c, text); err != nil {
		return err
	}
	if c.texts == nil {
		c.texts = make(map[string]string, len(settings))
	}
	c.texts[s.name] = text
	return nil
}

// hiddenSettings are shown by CONFIG GET as whether they are set, not
// what they are: keys a client has no business reading.
var hiddenSettings = map[string]bool{"cluster-key": true}

// settingTexts returns every setting's value as its source wrote it, for
// CONFIG GET; secrets say only whether they are set, and booleans read yes
// or no, as Redis's do.
func (c *Config) settingTexts() map[string]string {
	m := make(map[string]string, len(c.texts))
	for name, text := range c.texts {
		switch s := lookup(name); {
		case name == "version":
		case hiddenSettings[name] && text != "":
			m[name] = "(hidden)"
		case s != nil && s.isBool:
			m[name] = "no"
			if b, err := parseBool(text); err == nil && b {
				m[name] = "yes"
			}
		default:
			m[name] = text
		}
	}
	return m
}

// lookup returns the setting with the given name, or nil.
func lookup(name string) *setting {
	for i := range settings {
		if settings[i].name == name {
			return &settings[i]
		}
	}
	return nil
}

// applyFile applies data, the TOML file at path, to c. Every key must name
// a setting that a file may set.
//
// The file is decoded into a map rather than a struct built from the table,
// so toml.MetaData.Undecoded cannot find unknown keys (a map claims every
// key); the table lookup below does, in the file's order.
func applyFile(c *Config, path string, data []byte) error {
	var values map[string]fileValue
	md, err := toml.Decode(string(data), &values)
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	var known, unknown []string
	for _, key := range md.Keys() {
		if len(key) != 1 {
			continue // under a table, whose own key is unknown
		}
		if lookup(key[0]) == nil {
			unknown = append(unknown, strconv.Quote(key[0]))
		} else {
			known = append(known, key[0])
		}
	}
	if len(unknown) > 0 {
		word := "key"
		if len(unknown) > 1 {
			word = "keys"
		}
		return fmt.Errorf("config: unknown %s %s (in %s)", word, strings.Join(unknown, ", "), path)
	}
	for _, name := range known {
		v := values[name]
		err := v.err
		if v.list && !lookup(name).list {
			err = errors.New("want a string, an integer or a boolean")
		}
		if err == nil && lookup(name).from&fromFile == 0 {
			err = errNotInFile
		}
		if err == nil {
			err = c.set(lookup(name), v.text)
		}
		if err != nil {
			return &settingError{key: name, value: v.text, source: path, err: err}
		}
	}
	return nil
}

// A fileValue is one value of the config file as the text a flag would
// carry: a string as it is, an integer or a boolean as written, so that
// maxmemory = 1048576 and maxmemory = "1mb" both work; an array of strings
// joined by commas, for the settings that take a list.
type fileValue struct {
	text string
	list bool  // it was an array
	err  error // a value of another type; kept to be reported with its key
}

// UnmarshalTOML implements toml.Unmarshaler.
func (v *fileValue) UnmarshalTOML(data any) error {
	switch d := data.(type) {
	case string:
		v.text = d
	case int64:
		v.text = strconv.FormatInt(d, 10)
	case bool:
		v.text = strconv.FormatBool(d)
	case []any:
		v.list = true
		texts := make([]string, len(d))
		for i, e := range d {
			s, ok := e.(string)
			if !ok || strings.Contains(s, ",") {
				v.text = fmt.Sprint(d)
				v.err = errors.New("want an array of strings without commas")
				return nil
			}
			texts[i] = s
		}
		v.text = strings.Join(texts, ",")
	default:
		v.text = fmt.Sprint(d)
		v.err = errors.New("want a string, an integer or a boolean")
	}
	return nil
}

// parseFlags parses the command line into the text of each flag given,
// by setting name. Values are checked later, by apply, so that a bad flag
// value and a bad variable read the same.
func parseFlags(args []string) (map[string]string, error) {
	fs := newFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, flagError(err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q (sessiond takes only flags)", fs.Arg(0))
	}
	set := make(map[string]string)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	return set, nil
}

// newFlagSet returns a flag set with every setting as a flag that keeps the
// text it is given. It prints nothing: errors are returned, help is
// printUsage's.
func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("sessiond", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addSettingFlags(fs, func(string) bool { return true })
	return fs
}

// addSettingFlags adds the settings that keep names to fs, as flags that
// keep the text they are given.
func addSettingFlags(fs *flag.FlagSet, keep func(name string) bool) {
	for _, s := range settings {
		if !keep(s.name) {
			continue
		}
		usage := s.usage
		if s.from&fromEnv != 0 {
			usage += " (env " + envName(s.name) + ")"
		}
		fs.Var(&textFlag{text: s.def, isBool: s.isBool}, s.name, usage)
		if s.isBool && s.def == "false" {
			fs.Lookup(s.name).DefValue = "" // no "(default false)", as for flag.Bool
		}
	}
}

// printUsage writes the help for -h and --help.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: sessiond [flags]
       sessiond sessions list|revoke --user ID [flags] (see sessiond sessions --help)

Runs a sessiond session store. Every flag but --version may also be set by
its environment variable, and every flag but --config and --version by a key
of the same name in the --config TOML file. Flags override the environment,
which overrides the file. Sizes take Redis's units: k=1000, kb=1024, m, mb,
g, gb.

Flags:
`)
	fs := newFlagSet()
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// A textFlag is a flag.Value that keeps its text unparsed.
type textFlag struct {
	text   string
	isBool bool
}

func (f *textFlag) String() string     { return f.text }
func (f *textFlag) Set(s string) error { f.text = s; return nil }
func (f *textFlag) IsBoolFlag() bool   { return f.isBool }
