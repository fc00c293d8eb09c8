package server

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/resp"
)

// command is an entry of the command table.
type command struct {
	name  string // lower case, as error replies spell it
	arity int    // Redis's convention: n exactly, or -n for at least n (the name counts)
	flags cmdFlags
	first int // position of the first key, 0 for none (COMMAND INFO)
	last  int // position of the last key, -1 for the last argument
	step  int
	fn    func(c *respConn, args [][]byte)

	id   int      // its place in the table, for its counters
	stat *cmdStat // its calls and time (cmdstats.go)
	// subs are a container command's subcommands, by lower-case name,
	// counted apart as Redis 7 counts them (cmdstat_client|list): entries
	// of the table that only count, named "client|list".
	subs map[string]*command
}

type cmdFlags uint8

const (
	noAuth  cmdFlags = 1 << iota // allowed before authentication
	noQueue                      // runs at once inside MULTI
	write                        // changes data (COMMAND INFO)
	readonly
	// offLoop marks a command that may wait (WAIT), take long (FLUSHALL,
	// DEBUG DIGEST) or answer with more than one value's bytes (MGET,
	// KEYS, SCAN, EXEC): a connection in an event loop leaves it to run
	// one, so that the loop never waits for one client.
	offLoop
	// readsValue marks a command that reads a key's value (GET): a
	// batch of them prefetches whole records (internal/prefetch).
	readsValue
	// fast marks a command Redis flags CMD_FAST: its latency monitor
	// event is "fast-command", any other's "command".
	fast
)

// commandTable returns the commands the server serves, by lower-case name,
// and in the table's order.
func commandTable() (map[string]*command, []*command) {
	list := []*command{
		// Connection.
		{name: "ping", arity: -1, flags: fast, fn: cmdPing},
		{name: "echo", arity: 2, flags: fast, fn: cmdEcho},
		{name: "quit", arity: -1, flags: fast | noAuth | noQueue, fn: cmdQuit},
		// Inside MULTI, AUTH and HELLO are queued like any command, as
		// in Redis.
		{name: "hello", arity: -1, flags: fast | noAuth, fn: cmdHello},
		{name: "auth", arity: -2, flags: fast | noAuth, fn: cmdAuth},
		{name: "select", arity: 2, flags: fast, fn: cmdSelect},
		{name: "client", arity: -2, fn: cmdClient},
		{name: "reset", arity: 1, flags: fast | noAuth | noQueue, fn: cmdReset},
		// Server.
		{name: "info", arity: -1, fn: cmdInfo},
		{name: "config", arity: -2, fn: cmdConfig},
		{name: "command", arity: -1, fn: cmdCommand},
		{name: "time", arity: 1, flags: fast, fn: cmdTime},
		{name: "dbsize", arity: 1, flags: fast | readonly, fn: cmdDBSize},
		{name: "flushdb", arity: -1, flags: write | offLoop, fn: cmdFlush},
		{name: "flushall", arity: -1, flags: write | offLoop, fn: cmdFlush},
		{name: "wait", arity: 3, flags: offLoop, fn: cmdWait},
		{name: "debug", arity: -2, flags: offLoop, fn: cmdDebug},
		{name: "save", arity: 1, flags: offLoop, fn: cmdSave},
		{name: "bgsave", arity: -1, fn: cmdBgsave},
		{name: "bgrewriteaof", arity: 1, fn: cmdBgsave},
		{name: "lastsave", arity: 1, flags: fast, fn: cmdLastsave},
		{name: "role", arity: 1, flags: fast, fn: cmdRole},
		{name: "slowlog", arity: -2, fn: cmdSlowlog},
		{name: "latency", arity: -2, fn: cmdLatency},
		{name: "shutdown", arity: -1, flags: noQueue, fn: cmdShutdown},
		{name: "memory", arity: -2, flags: readonly, fn: cmdMemory},
		{name: "monitor", arity: 1, flags: noQueue | offLoop, fn: cmdMonitor},
		// Strings.
		{name: "get", arity: 2, flags: fast | readonly | readsValue, first: 1, last: 1, step: 1, fn: cmdGet},
		{name: "set", arity: -3, flags: write, first: 1, last: 1, step: 1, fn: cmdSet},
		{name: "setex", arity: 4, flags: write, first: 1, last: 1, step: 1, fn: cmdSetEx},
		{name: "psetex", arity: 4, flags: write, first: 1, last: 1, step: 1, fn: cmdPSetEx},
		{name: "setnx", arity: 3, flags: fast | write, first: 1, last: 1, step: 1, fn: cmdSetNX},
		{name: "getdel", arity: 2, flags: fast | write | readsValue, first: 1, last: 1, step: 1, fn: cmdGetDel},
		{name: "getex", arity: -2, flags: fast | write | readsValue, first: 1, last: 1, step: 1, fn: cmdGetEx},
		{name: "mget", arity: -2, flags: fast | readonly | offLoop | readsValue, first: 1, last: -1, step: 1, fn: cmdMGet},
		{name: "mset", arity: -3, flags: write, first: 1, last: -1, step: 2, fn: cmdMSet},
		{name: "session.merge", arity: -3, flags: write, first: 1, last: 1, step: 1, fn: cmdSessionMerge},
		{name: "strlen", arity: 2, flags: fast | readonly, first: 1, last: 1, step: 1, fn: cmdStrlen},
		// Keys.
		{name: "del", arity: -2, flags: write, first: 1, last: -1, step: 1, fn: cmdDel},
		{name: "unlink", arity: -2, flags: fast | write, first: 1, last: -1, step: 1, fn: cmdDel},
		{name: "exists", arity: -2, flags: fast | readonly, first: 1, last: -1, step: 1, fn: cmdExists},
		{name: "type", arity: 2, flags: fast | readonly, first: 1, last: 1, step: 1, fn: cmdType},
		{name: "expire", arity: -3, flags: fast | write, first: 1, last: 1, step: 1, fn: cmdExpire},
		{name: "pexpire", arity: -3, flags: fast | write, first: 1, last: 1, step: 1, fn: cmdExpire},
		{name: "expireat", arity: -3, flags: fast | write, first: 1, last: 1, step: 1, fn: cmdExpire},
		{name: "pexpireat", arity: -3, flags: fast | write, first: 1, last: 1, step: 1, fn: cmdExpire},
		{name: "ttl", arity: 2, flags: fast | readonly, first: 1, last: 1, step: 1, fn: cmdTTL},
		{name: "pttl", arity: 2, flags: fast | readonly, first: 1, last: 1, step: 1, fn: cmdTTL},
		{name: "persist", arity: 2, flags: fast | write, first: 1, last: 1, step: 1, fn: cmdPersist},
		{name: "object", arity: -2, flags: readonly, fn: cmdObject},
		{name: "scan", arity: -2, flags: readonly | offLoop, fn: cmdScan},
		{name: "keys", arity: 2, flags: readonly | offLoop, fn: cmdKeys},
		// A user's sessions (sessions.go).
		{name: "session.list", arity: 2, flags: readonly | offLoop, fn: cmdSessionList},
		{name: "session.count", arity: 2, flags: readonly, fn: cmdSessionCount},
		{name: "session.revoke", arity: -2, flags: write | offLoop, fn: cmdSessionRevoke},
		// Transactions.
		{name: "multi", arity: 1, flags: fast | noQueue, fn: cmdMulti},
		{name: "exec", arity: 1, flags: noQueue | offLoop, fn: cmdExec},
		{name: "discard", arity: 1, flags: fast | noQueue, fn: cmdDiscard},
	}
	t := make(map[string]*command, len(list))
	for _, c := range list {
		t[c.name] = c
	}
	for _, name := range slices.Sorted(maps.Keys(subcommands)) {
		parent := t[name]
		if parent == nil {
			continue
		}
		parent.subs = map[string]*command{}
		for _, sub := range subcommands[name] {
			c := &command{name: name + "|" + sub}
			parent.subs[sub] = c
			list = append(list, c)
		}
	}
	for i, c := range list {
		c.id = i
	}
	return t, list
}

// subcommands are the subcommands of the container commands, as Redis 7
// names them, which INFO commandstats and LATENCY HISTOGRAM count apart.
var subcommands = map[string][]string{
	"client":  {"getname", "id", "info", "kill", "list", "no-evict", "no-touch", "reply", "setinfo", "setname", "help"},
	"config":  {"get", "set", "resetstat", "rewrite", "help"},
	"command": {"count", "docs", "getkeys", "info", "list", "help"},
	"object":  {"encoding", "freq", "idletime", "refcount", "help"},
	"slowlog": {"get", "len", "reset", "help"},
	"latency": {"doctor", "histogram", "history", "latest", "reset", "help"},
	"memory":  {"doctor", "malloc-stats", "purge", "stats", "usage", "help"},
}

// counted returns the command whose counters a call of cmd with args
// adds to: its subcommand's, for a container command, if args name one.
func counted(cmd *command, args [][]byte) *command {
	if cmd.subs == nil || len(args) < 2 {
		return cmd
	}
	var buf [16]byte
	if name, ok := lowerName(&buf, args[1]); ok {
		if sub := cmd.subs[string(name)]; sub != nil {
			return sub
		}
	}
	return cmd
}

// lowerName writes name in lower case into buf and returns it, or false if
// it is longer than any command's name (16 bytes): for map lookups that
// do not allocate.
func lowerName(buf *[16]byte, name []byte) ([]byte, bool) {
	if len(name) > len(buf) {
		return nil, false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(name)], true
}

// lookup finds a command by name, in any case, without allocating.
func (s *Server) lookup(name []byte) *command {
	var buf [16]byte
	lower, ok := lowerName(&buf, name)
	if !ok {
		return nil
	}
	return s.cmds[string(lower)]
}

// Error replies shared by many commands, as Redis words them.
const (
	errSyntax    = "ERR syntax error"
	errNotInt    = "ERR value is not an integer or out of range"
	errOOM       = "OOM command not allowed when used memory > 'maxmemory'."
	errNoAuth    = "NOAUTH Authentication required."
	errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."
)

// storeError replies to an error from the store.
func (c *respConn) storeError(err error) {
	if errors.Is(err, sessiond.ErrOutOfMemory) || errors.Is(err, sessiond.ErrNotPersisted) {
		// Redis refuses these in processCommand, before call(): a
		// rejected call, not a failed one.
		c.failed = rejected
	}
	c.w.Error(c.s.storeFailure(err).resp)
}

// failure is an error of the store, in each protocol's words.
type failure struct {
	resp string    // RESP's error reply, with its prefix
	mc   string    // memcached's SERVER_ERROR message
	mcN  mcCounter // the memcached counter it adds to, if any (mcNone)
}

// storeFailure says how each protocol answers err, an error of the store.
func (s *Server) storeFailure(err error) failure {
	switch {
	case errors.Is(err, sessiond.ErrOutOfMemory):
		return failure{errOOM, mcOutOfMemory, mcStoreNoMemory}
	case errors.Is(err, sessiond.ErrValueTooLarge):
		return failure{fmt.Sprintf("ERR value too large: max-value-size is %d bytes", s.storeOpts.MaxValueSize), mcTooLarge, mcStoreTooLarge}
	case errors.Is(err, sessiond.ErrKeyTooLarge):
		msg := fmt.Sprintf("key too large: keys are at most %d bytes", sessiond.MaxKeySize)
		return failure{"ERR " + msg, err.Error(), mcNone}
	case errors.Is(err, sessiond.ErrClosed):
		return failure{"ERR server is shutting down", "server is shutting down", mcNone}
	case errors.Is(err, sessiond.ErrNotReplicated):
		// The write is made here, not on enough replicas.
		return failure{noReplicasError(err), noReplicasError(err), mcNone}
	case errors.Is(err, sessiond.ErrNotPersisted):
		return failure{errMisconf + err.Error(), "writes refused: " + err.Error(), mcNone}
	case errors.Is(err, sessiond.ErrLoading):
		return failure{errLoading, "loading the dataset", mcNone}
	default:
		return failure{"ERR " + err.Error(), err.Error(), mcNone}
	}
}

// intArg parses an integer argument, replying with Redis's error if it is
// not one.
func (c *respConn) intArg(b []byte) (int64, bool) {
	n, ok := parseInt(b)
	if !ok {
		c.w.Error(errNotInt)
	}
	return n, ok
}

// parseInt parses an integer as Redis does: no sign but a minus, no
// leading zeros, no spaces.
func parseInt(b []byte) (int64, bool) { return resp.ParseInt(b) }

// equalFold reports whether b equals the lower-case ASCII word s in any
// case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
