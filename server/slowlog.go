package server

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The slow log keeps the commands that took longer than
// Config.SlowlogSlowerThan, as Redis's does, for SLOWLOG GET: with each its
// ID, when it ran, how long it took, its arguments (cut as Redis cuts
// them) and its client.

// Redis's bounds on what an entry keeps of a command.
const (
	slowlogMaxArgs   = 32  // arguments kept, the last saying how many more
	slowlogMaxString = 128 // bytes kept of an argument
)

// defaultSlowlog* are Redis's defaults.
const (
	defaultSlowlogSlowerThan = 10 * time.Millisecond
	defaultSlowlogMaxLen     = 128
)

// slowEntry is one command of the slow log.
type slowEntry struct {
	id   int64
	at   time.Time
	took time.Duration
	args []string
	addr string
	name string
}

// slowlog is the server's slow log: a ring of its latest entries.
type slowlog struct {
	slowerThan time.Duration // negative: off
	maxLen     int

	mu      sync.Mutex
	entries []slowEntry // a ring of at most maxLen, the oldest at head once full
	head    int
	nextID  int64
}

func (l *slowlog) init(slowerThan time.Duration, maxLen int) {
	if slowerThan == 0 {
		slowerThan = defaultSlowlogSlowerThan
	}
	if maxLen <= 0 {
		maxLen = defaultSlowlogMaxLen
	}
	l.slowerThan, l.maxLen = slowerThan, maxLen
}

// slow reports whether a command that took d goes in the log.
func (l *slowlog) slow(d time.Duration) bool { return l.slowerThan >= 0 && d >= l.slowerThan }

// add logs a command of c that took d. A memcached connection, which has
// no name, shows as "memcache".
func (l *slowlog) add(c *conn, args [][]byte, d time.Duration) {
	name := c.meta.Load().name
	if _, ok := c.proto.(*mcConn); ok && name == "" {
		name = "memcache"
	}
	e := slowEntry{at: time.Now(), took: d, args: slowlogArgs(args), addr: c.raddr.String(), name: name}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	if len(l.entries) < l.maxLen {
		l.entries = append(l.entries, e)
		return
	}
	// Full: the newest takes the oldest's place, in O(1) whatever
	// --slowlog-max-len.
	l.entries[l.head] = e
	l.head = (l.head + 1) % len(l.entries)
}

// slowlogArgs copies what an entry keeps of a command's arguments: at
// most slowlogMaxArgs, the last of them saying how many more there were,
// each cut to slowlogMaxString bytes with a note of how many more; AUTH's
// arguments and HELLO's user and password are redacted, as a monitor's
// are (monitor.go) and as Redis redacts them.
func slowlogArgs(args [][]byte) []string {
	n := len(args)
	if n > slowlogMaxArgs {
		n = slowlogMaxArgs
	}
	out := make([]string, n)
	red := redacted(args)
	for i := range n {
		a := args[i]
		switch {
		case i == slowlogMaxArgs-1 && len(args) > slowlogMaxArgs:
			out[i] = fmt.Sprintf("... (%d more arguments)", len(args)-slowlogMaxArgs+1)
		case i < len(red) && red[i]:
			out[i] = "(redacted)"
		case len(a) > slowlogMaxString:
			out[i] = fmt.Sprintf("%s... (%d more bytes)", a[:slowlogMaxString], len(a)-slowlogMaxString)
		default:
			out[i] = string(a)
		}
	}
	return out
}

// get returns the latest n entries, newest first (n < 0: all).
func (l *slowlog) get(n int) []slowEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > len(l.entries) {
		n = len(l.entries)
	}
	out := make([]slowEntry, n)
	for i := range out {
		out[i] = l.entries[(l.head+len(l.entries)-1-i)%len(l.entries)]
	}
	return out
}

func (l *slowlog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *slowlog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.head = nil, 0
}

// SLOWLOG GET [count] | LEN | RESET | HELP
func cmdSlowlog(c *respConn, args [][]byte) {
	l := &c.s.slowlog
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "get" && len(args) <= 3:
		n := 10
		if len(args) == 3 {
			v, err := strconv.ParseInt(string(args[2]), 10, 64)
			if err != nil || v < -1 {
				c.w.Error("ERR count should be greater than or equal to -1")
				return
			}
			n = int(max(-1, min(v, int64(l.maxLen))))
		}
		entries := l.get(n)
		c.w.Array(len(entries))
		for _, e := range entries {
			c.w.Array(6)
			c.w.Int(e.id)
			c.w.Int(e.at.Unix())
			c.w.Int(e.took.Microseconds())
			c.w.Array(len(e.args))
			for _, a := range e.args {
				c.w.BulkString(a)
			}
			c.w.BulkString(e.addr)
			c.w.BulkString(e.name)
		}
	case sub == "len" && len(args) == 2:
		c.w.Int(int64(l.len()))
	case sub == "reset" && len(args) == 2:
		l.reset()
		c.w.OK()
	case sub == "help" && len(args) == 2:
		c.help("SLOWLOG", slowlogHelp...)
	default:
		c.subcommandError("slowlog", args, "get", "len", "reset", "help")
	}
}

var slowlogHelp = []string{
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
}
