package server

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/memcache"
)

// Each command's calls, time and failures are counted as they run, for
// INFO commandstats, LATENCY HISTOGRAM and the metrics' latency histograms.
// A command costs one clock read: the time a command took is from the end
// of the one before it on the connection, or from the read that brought
// it, to its own end (conn.tick), so that a batch of commands reads the
// clock once per command and once per read. The counters are spread over
// shards, a connection's by its ID, so that connections on different
// cores rarely write the same cache line.

// latencyBuckets is the number of buckets of a command's latency
// histogram: bucket i counts the calls that took at most 2^i µs, up to
// about a second; the last counts the longer ones.
const latencyBuckets = 22

// cmdShards is the number of shards of each command's counters: a power of
// two.
const cmdShards = 8

// cmdShard is one shard of a command's counters.
type cmdShard struct {
	ns       atomic.Int64 // time taken, in all
	failed   atomic.Int64 // calls that answered an error
	rejected atomic.Int64 // calls refused before they ran
	buckets  [latencyBuckets]atomic.Int64
	_        [256 - (3+latencyBuckets)*8]byte // a shard starts a cache line
}

// cmdStat counts one command's calls.
type cmdStat struct {
	shards [cmdShards]cmdShard
}

// CommandStat is one command's counts since the server started.
type CommandStat struct {
	// Name is the command's name, in lower case; Protocol is "redis" or
	// "memcache".
	Name, Protocol string
	// Calls counts the calls that ran, failed ones included; Failed
	// those that answered an error, Rejected those refused before they
	// ran (wrong arity, no authentication, still loading). A rejected
	// call does not count in Calls, as in Redis.
	Calls, Failed, Rejected int64
	// Time is the time the calls took, in all.
	Time time.Duration
	// Buckets count the calls by how long they took: Buckets[i] those
	// that took more than LatencyBound(i-1) and at most LatencyBound(i);
	// the last bucket the longer ones.
	Buckets [latencyBuckets]int64
}

// LatencyBound returns the upper bound of bucket i of
// CommandStat.Buckets; the last bucket has none.
func LatencyBound(i int) time.Duration { return time.Microsecond << i }

// LatencyBuckets is the number of buckets of CommandStat.Buckets.
const LatencyBuckets = latencyBuckets

// latencyBucket returns the bucket of a call that took d.
func latencyBucket(d time.Duration) int {
	if d <= time.Microsecond {
		return 0
	}
	// The smallest i with d <= 2^i µs.
	i := bits.Len64(uint64(d-1) / uint64(time.Microsecond))
	return min(i, latencyBuckets-1)
}

// cmdOutcome is how a command that ran ended, for its counts.
type cmdOutcome uint8

const (
	succeeded cmdOutcome = iota
	failed               // it answered an error
	rejected             // refused as Redis refuses before call() (OOM, MISCONF)
)

// record counts a call of the command that took d, on shard.
func (st *cmdStat) record(shard int, d time.Duration, o cmdOutcome) {
	sh := &st.shards[shard&(cmdShards-1)]
	if o == rejected {
		sh.rejected.Add(1)
		return
	}
	sh.ns.Add(int64(d))
	sh.buckets[latencyBucket(d)].Add(1)
	if o == failed {
		sh.failed.Add(1)
	}
}

// reject counts a call of the command refused before it ran.
func (st *cmdStat) reject(shard int) {
	st.shards[shard&(cmdShards-1)].rejected.Add(1)
}

// read adds up the shards into s.
func (st *cmdStat) read(s *CommandStat) {
	for i := range st.shards {
		sh := &st.shards[i]
		s.Time += time.Duration(sh.ns.Load())
		s.Failed += sh.failed.Load()
		s.Rejected += sh.rejected.Load()
		for b := range sh.buckets {
			n := sh.buckets[b].Load()
			s.Buckets[b] += n
			s.Calls += n
		}
	}
}

// sub takes the counts of base from s: the counts since base was read.
func (s *CommandStat) sub(base *CommandStat) {
	s.Calls -= base.Calls
	s.Failed -= base.Failed
	s.Rejected -= base.Rejected
	s.Time -= base.Time
	for i := range s.Buckets {
		s.Buckets[i] -= base.Buckets[i]
	}
}

// maxErrorKinds bounds the kinds of error counted, as Redis bounds them
// (128): errors of a kind past that are not counted.
const maxErrorKinds = 128

// errorStats counts error replies by kind: the first word of the reply
// (ERR, WRONGTYPE, NOAUTH...; CLIENT_ERROR, SERVER_ERROR or ERROR over
// memcached). Errors are the uncommon path: one mutex serves.
type errorStats struct {
	mu    sync.Mutex
	kinds map[errorKind]int64
}

// errorKind is an error's kind and the protocol that answered it.
type errorKind struct{ protocol, kind string }

// count counts one error reply.
func (e *errorStats) count(protocol, msg string) {
	kind := msg
	for i := 0; i < len(msg); i++ {
		if msg[i] == ' ' {
			kind = msg[:i]
			break
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kinds == nil {
		e.kinds = map[errorKind]int64{}
	}
	k := errorKind{protocol, kind}
	if _, ok := e.kinds[k]; !ok && len(e.kinds) >= maxErrorKinds {
		return
	}
	e.kinds[k]++
}

// ErrorStat is the number of error replies of one kind.
type ErrorStat struct {
	// Protocol is "redis" or "memcache"; Kind is the reply's first word
	// (ERR, WRONGTYPE, CLIENT_ERROR...).
	Protocol, Kind string
	Count          int64
}

// cmdStats are the server's command and error counters, with the counts
// CONFIG RESETSTAT took as its base: INFO reports the counts since the
// reset, the metrics the counts since the start (Prometheus counters
// never go down).
type cmdStats struct {
	redis []*cmdStat // by command, in commandTable's order (command.id)
	mc    []*cmdStat // by memcache.Op

	errors errorStats

	mu        sync.Mutex
	base      map[*cmdStat]CommandStat // the counts at CONFIG RESETSTAT
	errorBase map[errorKind]int64
}

// newCmdStats returns counters for nRedis RESP commands and nMC memcached
// ones.
func newCmdStats(nRedis, nMC int) *cmdStats {
	cs := &cmdStats{redis: make([]*cmdStat, nRedis), mc: make([]*cmdStat, nMC)}
	for i := range cs.redis {
		cs.redis[i] = new(cmdStat)
	}
	for i := range cs.mc {
		cs.mc[i] = new(cmdStat)
	}
	return cs
}

// reset makes INFO count from now on.
func (cs *cmdStats) reset() {
	base := map[*cmdStat]CommandStat{}
	for _, st := range append(append([]*cmdStat(nil), cs.redis...), cs.mc...) {
		var s CommandStat
		st.read(&s)
		base[st] = s
	}
	cs.errors.mu.Lock()
	errBase := make(map[errorKind]int64, len(cs.errors.kinds))
	for k, n := range cs.errors.kinds {
		errBase[k] = n
	}
	cs.errors.mu.Unlock()
	cs.mu.Lock()
	cs.base, cs.errorBase = base, errBase
	cs.mu.Unlock()
}

// CommandStats returns the counts of each command called at least once
// since the start, RESP's then memcached's, each in the order of its
// command table.
func (s *Server) CommandStats() []CommandStat { return s.commandStats(false) }

// commandStats returns the counts of each command called (or refused) at
// least once, since the start or, sinceReset, since CONFIG RESETSTAT.
func (s *Server) commandStats(sinceReset bool) []CommandStat {
	cs := s.cmdStats
	var base map[*cmdStat]CommandStat
	if sinceReset {
		cs.mu.Lock()
		base = cs.base
		cs.mu.Unlock()
	}
	var out []CommandStat
	add := func(st *cmdStat, name, protocol string) {
		c := CommandStat{Name: name, Protocol: protocol}
		st.read(&c)
		if b, ok := base[st]; ok {
			c.sub(&b)
		}
		if c.Calls > 0 || c.Rejected > 0 {
			out = append(out, c)
		}
	}
	for i, st := range cs.redis {
		add(st, s.cmdList[i].name, "redis")
	}
	for op, st := range cs.mc {
		if op > 0 {
			add(st, memcache.Op(op).String(), "memcache")
		}
	}
	return out
}

// ErrorStats returns the error replies counted by kind since the start.
func (s *Server) ErrorStats() []ErrorStat { return s.errorStats(false) }

// errorStats returns the error replies counted by kind since the start or,
// sinceReset, since CONFIG RESETSTAT.
func (s *Server) errorStats(sinceReset bool) []ErrorStat {
	cs := s.cmdStats
	var base map[errorKind]int64
	if sinceReset {
		cs.mu.Lock()
		base = cs.errorBase
		cs.mu.Unlock()
	}
	e := &cs.errors
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ErrorStat, 0, len(e.kinds))
	for k, n := range e.kinds {
		if n -= base[k]; n > 0 {
			out = append(out, ErrorStat{Protocol: k.protocol, Kind: k.kind, Count: n})
		}
	}
	return out
}

// mono returns the time since the server started, from the monotonic
// clock: one clock read, half of what time.Now takes.
func (s *Server) mono() time.Duration { return time.Since(s.started) }

// ran counts a command that ran from start to now, and logs it if slow.
func (c *respConn) ran(cmd *command, args [][]byte, start, stalled time.Duration) {
	now := c.s.mono()
	c.tick = now
	d := now - start - (c.stalled - stalled)
	st := counted(cmd, args)
	if st == cmd && cmd.subs != nil && len(args) > 1 && c.failed == rejected {
		// An unknown subcommand: Redis counts it nowhere but in
		// errorstats.
		return
	}
	st.stat.record(int(c.id), d, c.failed)
	if c.s.slowlog.slow(d) && cmd.name != "exec" {
		// EXEC's commands are logged themselves, as in Redis.
		c.s.slowlog.add(c.conn, args, d)
	}
	if c.s.latency.over(d) {
		event := "command"
		if cmd.flags&fast != 0 {
			event = "fast-command"
		}
		c.s.latency.add(event, d)
	}
}

// ran counts a memcached command (all its batches, for a get of many
// keys), and logs it if slow.
func (m *mcConn) ran(cmd *memcache.Command) {
	now := m.s.mono()
	d := now - m.tick - (m.stalled - m.stalledAt)
	m.tick, m.stalledAt = now, m.stalled
	if int(cmd.Op) < len(m.s.cmdStats.mc) {
		m.s.cmdStats.mc[cmd.Op].record(int(m.id), d, m.failed)
	}
	m.failed = succeeded
	if m.s.slowlog.slow(d) {
		args := [][]byte{[]byte(cmd.Op.String())}
		if cmd.Key != nil {
			args = append(args, cmd.Key)
		}
		args = append(args, cmd.Keys...)
		if cmd.Data != nil {
			args = append(args, cmd.Data)
		}
		m.s.slowlog.add(m.conn, args, d)
	}
	if m.s.latency.over(d) {
		event := "fast-command"
		if cmd.Op == memcache.FlushAll {
			event = "command"
		}
		m.s.latency.add(event, d)
	}
}
