// Command sessiond runs a sessiond session store as its own process.
//
// It opens the store with the configured limits and serves it over the
// Redis protocol (RESP2 and RESP3) on TCP and, if asked, a Unix socket, and
// over the memcached text protocol where asked, logging a line per listener
// and one saying what it is. On SIGINT or SIGTERM it stops accepting, lets
// connections finish the commands they sent, closes the store, logs that it
// stopped and exits 0. An address in use, or a Unix socket another server
// answers on, stops it at start with exit status 1 and one line that names
// the listener, its flag and address, and the cause:
//
//	sessiond: the RESP listener (--addr 127.0.0.1:6379): address already in use
//
// A --memcache-addr others can reach while --requirepass is set stops it
// too (see --memcache-insecure).
//
// Usage:
//
//	sessiond [flags]
//	sessiond sessions list|revoke --user ID [flags]
//
// The flags:
//
//	--addr HOST:PORT          serve the Redis protocol on TCP (default
//	                          127.0.0.1:6379; empty: no TCP)
//	--unix PATH               also serve it on a Unix socket
//	--unix-perm BITS          the sockets' permissions (default 0600)
//	--memcache-addr HOST:PORT serve the memcached text protocol on TCP
//	                          (default: not at all)
//	--memcache-unix PATH      serve it on a Unix socket
//	--memcache-insecure       serve it on a non-loopback --memcache-addr
//	                          even with --requirepass (memcached's protocol
//	                          has no authentication: whoever reaches the
//	                          port bypasses the password)
//	--requirepass PASSWORD    require AUTH (prefer SESSIOND_REQUIREPASS:
//	                          a flag shows in the process list)
//	--protected-mode yes|no   with no --requirepass, refuse TCP clients
//	                          that are not on a loopback address, with an
//	                          error saying why, as Redis does (default yes)
//	--http-addr HOST:PORT     serve operators over HTTP: the status page
//	                          (/), /metrics (Prometheus), /healthz,
//	                          /readyz (default: not at all); with
//	                          --requirepass all but the probes ask for
//	                          it (basic auth or a bearer token)
//	--http-pprof              also serve /debug/pprof/ there
//	--tls-addr HOST:PORT      also serve the Redis protocol over TLS (1.2
//	                          or later) on TCP (default: not at all); needs
//	                          --tls-cert-file and --tls-key-file
//	--tls-cert-file FILE      the TLS certificate, PEM, intermediates after
//	                          it
//	--tls-key-file FILE       its private key, PEM
//	--tls-ca-cert-file FILE   require TLS clients to present a certificate
//	                          signed by a CA in this PEM file (mutual TLS)
//	--maxclients N            connections at once (default 10000)
//	--timeout SECONDS         close idle connections (default 0: never)
//	--slowlog-log-slower-than MICROSECONDS
//	                          log commands that take this long for SLOWLOG
//	                          GET (default 10000; 0: all; negative: none)
//	--slowlog-max-len N       entries the slow log keeps (default 128)
//	--latency-monitor-threshold MS
//	                          record commands that take this long for
//	                          LATENCY LATEST (default 0: off)
//	--event-loops N           serve RESP connections from N event loops
//	                          (Linux; default 1; 0: a goroutine per
//	                          connection, as on other systems; with
//	                          --sync-replicas a connection leaves its
//	                          loop at its first write)
//	--config FILE             read settings from a TOML file
//	--maxmemory SIZE          cap the store's memory (default 0: no cap)
//	--maxmemory-policy NAME   at the cap: noeviction (default), volatile-ttl
//	                          or allkeys-lru
//	--max-value-size SIZE     refuse longer values (default 1mb)
//	--shards N                locked partitions (default 0: the store's own
//	                          default)
//	--user-field PATHS        file JSON sessions under the user id at these
//	                          comma-separated dotted paths, for SESSION.LIST
//	                          and SESSION.REVOKE (default passport.user;
//	                          empty: no user index)
//	--dir PATH                keep sessions across restarts in this data
//	                          directory (default: none, memory only)
//	--appendfsync POLICY      flush the --dir log to disk: always,
//	                          everysec (default) or no
//	--auto-aof-rewrite-min-size SIZE
//	                          compact the log into a snapshot once it
//	                          passes SIZE and the last snapshot's size
//	                          (default 64mb)
//	--dir-repair              load a damaged --dir as far as it can: cut a
//	                          log at its damage, keeping what is cut
//	--cluster-addr HOST:PORT  be a node of a cluster: gossip there (default:
//	                          a single server); see "Clusters" below
//	--cluster-advertise HOST:PORT
//	                          the gossip address peers should use, if not
//	                          --cluster-addr (NAT, or binding 0.0.0.0)
//	--cluster-data-addr HOST:PORT
//	                          accept peers' data streams there (default:
//	                          --cluster-addr's host, its port + 1)
//	--join PEERS              comma-separated host:port or DNS names of
//	                          nodes to join (every address a name has;
//	                          only with --cluster-addr)
//	--join-timeout DURATION   retry joining with backoff until then
//	                          (default 1m), then exit 1
//	--node-name NAME          unique in the cluster (default: host name)
//	--cluster-name NAME       nodes of another cluster are refused
//	                          (default sessiond)
//	--cluster-key KEYS        comma-separated base64 keys of 16, 24 or 32
//	                          bytes (at most 8; an array in the file):
//	                          the first encrypts and authenticates gossip
//	                          and data streams, every one is accepted
//	--cluster-insecure        allow non-loopback cluster addresses without
//	                          --cluster-key
//	--cluster-expect N        the cluster should have N members, this one
//	                          included: INFO's cluster_state is degraded
//	                          while fewer are alive (default: one per
//	                          distinct --join address not this node's, plus
//	                          this node)
//	--sync-replicas K         acknowledge a write only once K peers applied
//	                          it (default 0: asynchronous; only with
//	                          --cluster-addr)
//	--sync-timeout DURATION   fail such a write after it (default 2s)
//	--tombstone-ttl DURATION  keep a delete's tombstone at least this long
//	                          (default 24h; the same on every node); a
//	                          --dir older than it is set aside at start
//	--cluster-repair-interval DURATION
//	                          compare digests with a peer this often
//	                          (default 5s)
//	--log-format FORMAT       text (default) or json
//	--log-level LEVEL         debug, info (default), warn or error
//	--version                 print "sessiond VERSION GOVERSION" and exit
//
// Sizes are written as Redis writes them: bytes, with an optional unit
// where a bare letter is a power of 1000 and a letter with b a power of
// 1024 (k, kb, m, mb, g, gb; any case). So 1k is 1000 bytes and 1kb 1024.
//
// Every flag but --version may also be set by an environment variable
// named SESSIOND_ and the flag in upper case with underscores for dashes
// (SESSIOND_MAXMEMORY_POLICY); an empty variable counts as unset. Every
// flag but --config and --version may also be set by a key of the same
// name in the --config file:
//
//	maxmemory = "512mb"
//	maxmemory-policy = "allkeys-lru"
//	shards = 64
//
// Flags override the environment, which overrides the file, which
// overrides the defaults. An unknown key in the file, or a bad value
// anywhere, stops sessiond with exit status 2 and one line on stderr that
// names the key and where the value came from:
//
//	sessiond: config: maxmemory "12XB" (from SESSIOND_MAXMEMORY): unknown unit
//
// An unknown flag, too, exits with status 2, pointing to the help:
//
//	sessiond: unknown flag --foo; see sessiond --help
//
// TLS: with --tls-addr, sessiond serves the Redis protocol over TLS there,
// besides --addr (which may be empty), to clients as a TCP one: the
// password, protected mode, --maxclients and --timeout apply. The
// certificate, its key and the CA are read at start, where a file that does
// not load stops sessiond with exit status 2 and a line naming it, and read
// again every second: new files (a renewed certificate, a new CA) serve new
// connections, while connections open keep theirs. New files that do not
// load are logged with the file they are about, and the last good ones stay
// in use. CONFIG GET answers Redis's names: tls-port, tls-cert-file,
// tls-key-file, tls-ca-cert-file and tls-auth-clients. docs/OPERATIONS.md
// shows how to make the certificates and set up the clients.
//
// Persistence: with --dir, every change is written to a log in that
// directory before it is acknowledged, and the log is compacted into
// snapshots; a restart loads them. A crash of the process (kill -9) loses
// no acknowledged write under any --appendfsync; the policy decides what a
// crash of the machine can lose (always: nothing; everysec: about the last
// second; no: what the kernel had not written). While it loads, a server
// answers LOADING. Another sessiond serving the same directory stops the
// start with exit status 3 and a line naming its pid; a damaged directory
// stops it with exit status 1 and a line naming the file and offset, and
// nothing in the directory changed (see --dir-repair). Without --dir,
// sessiond logs at start that sessions will not survive a restart.
// docs/PERSISTENCE.md has the whole story.
//
// Clusters: with --cluster-addr, the node gossips there (memberlist, UDP
// and TCP) and takes its peers' streams of changes on --cluster-data-addr;
// every node holds every session and answers every request. --join names
// nodes already in the cluster; a node without it starts a new cluster. A
// joining node streams the whole set from one peer and reports
// cluster_ready:1 in INFO once it holds it, and cluster_state:ok once it
// does and the members --cluster-expect counts are alive (degraded while
// some are not, fail while it does not hold the set or is alone). Without
// --cluster-key the cluster addresses must be loopback ones unless
// --cluster-insecure is given. On SIGINT or SIGTERM a node hands its peers
// the changes they have not acknowledged and says goodbye, so that they
// drop it at once. A node name that is taken, another cluster key or
// cluster name: the node exits 1 with one line saying why.
//
// Two nodes talk if each one's first --cluster-key is among the other's
// keys, so a cluster changes its key by three rolling restarts, one node
// at a time: add the new key second (--cluster-key OLD,NEW), make it first
// (NEW,OLD), drop the old one (NEW). docs/OPERATIONS.md has the steps.
//
// A user's sessions: with a first argument "sessions", sessiond lists or
// revokes the sessions of a user on a running server instead of serving:
//
//	sessiond sessions list --user ID
//	sessiond sessions revoke --user ID [--except KEY]...
//
// It finds the server with the server's own --unix (if set) or --addr, and
// --requirepass, from the same flags, SESSIOND_* variables and --config
// file, and sends SESSION.LIST or SESSION.REVOKE over the Redis protocol
// (after AUTH, with a password); it does not speak TLS. list prints a line
// per session, the most recently written first, with tabs between the
// fields (a key with a space, a control character or bytes that are not
// UTF-8 is quoted as a Go string):
//
//	sess:5f2b…	ttl=86399	written=2026-12-06T08:00:00.123Z	size=512
//
// and revoke prints how many sessions it deleted. A server it cannot
// reach, or an error reply, exits 1 with one line:
//
//	sessiond sessions: cannot reach 127.0.0.1:6379: connection refused
//
// A usage error (no --user, an unknown flag) exits 2; `sessiond sessions
// --help` prints the usage and exits 0.
//
// Unless GOGC is set, sessiond runs the Go collector at GOGC=100; see
// gcPercent for why.
package main
