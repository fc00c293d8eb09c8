package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/memcache"
)

// MONITOR streams every command the server runs, of every client and both
// protocols, as Redis does: a line per command,
//
//	+1733461234.123456 [0 127.0.0.1:50412] "set" "sess:1" "{...}"
//
// with the time it ran, the client's address ("unix:<socket>" for a Unix
// socket) and the arguments quoted as Redis quotes them. Passwords (AUTH,
// HELLO's AUTH) read "(redacted)", and the commands Redis keeps from
// monitors (its admin commands: CONFIG, CLIENT KILL and LIST, DEBUG, SAVE,
// SHUTDOWN, MONITOR...) are not shown. Commands refused before they run
// (unknown, wrong arity, not authenticated) are not shown either; commands
// queued by MULTI show when EXEC runs them.
//
// When no client monitors, the cost to a command is the one atomic load in
// monitors.feed. A monitor that does not read its lines is closed once
// monitorMaxPending bytes wait for it, as Redis closes a replica past its
// output buffer limit, so a slow monitor never holds memory or a command.

// monitorMaxPending is the most bytes of lines that may wait for one
// monitor.
const monitorMaxPending = 32 << 20

// monitors are the connections that ran MONITOR.
type monitors struct {
	n    atomic.Int32 // len(list), read without the lock by feed
	mu   sync.Mutex
	list []*monitor
}

// monitor is one monitoring connection: the lines waiting for it, which its
// own goroutine writes.
type monitor struct {
	c    *respConn
	buf  []byte        // lines not yet written, under monitors.mu
	wake chan struct{} // a line came; capacity 1
}

// feed shows a command that c ran to every monitor. It is one atomic load
// when nobody monitors, and inlined.
func (ms *monitors) feed(c *conn, cmd *command, args [][]byte) {
	if ms.n.Load() != 0 {
		ms.send(c, cmd, args)
	}
}

// feedMC shows a memcached command to every monitor, as feed does.
func (ms *monitors) feedMC(c *conn, cmd *memcache.Command) {
	if ms.n.Load() != 0 {
		ms.sendMC(c, cmd)
	}
}

// sendMC shows a memcached command as the words of its line in
// memcached's order, its data block (if any) last, as Redis shows SET's
// value: "set" "key" "flags" "exptime" "value". A get of many keys shows
// as one line per batch the reader returns.
func (ms *monitors) sendMC(c *conn, cmd *memcache.Command) {
	num := func(n int64) []byte { return strconv.AppendInt(nil, n, 10) }
	args := [][]byte{[]byte(cmd.Op.String())}
	switch cmd.Op {
	case memcache.Get, memcache.Gets:
		args = append(args, cmd.Keys...)
	case memcache.Gat, memcache.Gats:
		args = append(append(args, num(cmd.Exptime)), cmd.Keys...)
	case memcache.Set, memcache.Add, memcache.Replace, memcache.Append, memcache.Prepend:
		args = append(args, cmd.Key, num(int64(cmd.Flags)), num(cmd.Exptime), cmd.Data)
	case memcache.Cas:
		args = append(args, cmd.Key, num(int64(cmd.Flags)), num(cmd.Exptime), strconv.AppendUint(nil, cmd.Cas, 10), cmd.Data)
	case memcache.Touch:
		args = append(args, cmd.Key, num(cmd.Exptime))
	case memcache.Incr, memcache.Decr:
		args = append(args, cmd.Key, strconv.AppendUint(nil, cmd.Delta, 10))
	case memcache.Delete:
		args = append(args, cmd.Key)
	case memcache.FlushAll:
		args = append(args, num(cmd.Exptime))
	}
	ms.queue(monitorLine(nil, time.Now(), c, args))
}

// send formats the line once and queues it for every monitor, closing the
// monitors that are too far behind.
func (ms *monitors) send(c *conn, cmd *command, args [][]byte) {
	if hidden(cmd, args) {
		return
	}
	ms.queue(monitorLine(nil, time.Now(), c, args))
}

// queue adds line to what every monitor has to write.
func (ms *monitors) queue(line []byte) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for i := 0; i < len(ms.list); i++ {
		m := ms.list[i]
		if len(m.buf)+len(line) > monitorMaxPending {
			m.c.s.log.Warn("closing a monitor that does not read its lines", "id", m.c.id, "client", m.c.raddr.String(), "pending", len(m.buf))
			ms.removeLocked(m)
			i--
			m.c.kill()
			continue
		}
		m.buf = append(m.buf, line...)
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

func (ms *monitors) add(c *respConn) *monitor {
	m := &monitor{c: c, wake: make(chan struct{}, 1)}
	ms.mu.Lock()
	ms.list = append(ms.list, m)
	ms.n.Store(int32(len(ms.list)))
	ms.mu.Unlock()
	return m
}

func (ms *monitors) remove(m *monitor) {
	ms.mu.Lock()
	ms.removeLocked(m)
	ms.mu.Unlock()
}

func (ms *monitors) removeLocked(m *monitor) {
	for i, o := range ms.list {
		if o == m {
			ms.list = append(ms.list[:i], ms.list[i+1:]...)
			break
		}
	}
	ms.n.Store(int32(len(ms.list)))
}

// take returns the lines waiting for m, and gives it spare to fill next.
func (ms *monitors) take(m *monitor, spare []byte) []byte {
	ms.mu.Lock()
	b := m.buf
	m.buf = spare[:0]
	ms.mu.Unlock()
	return b
}

// hidden reports whether MONITOR keeps the command from monitors, as Redis
// keeps its admin commands.
func hidden(cmd *command, args [][]byte) bool {
	switch cmd.name {
	case "config", "debug", "save", "bgsave", "bgrewriteaof", "lastsave", "shutdown", "role", "monitor", "slowlog", "latency":
		return true
	case "client":
		for _, sub := range []string{"kill", "list", "no-evict", "pause", "unpause", "unblock"} {
			if equalFold(args[1], sub) {
				return true
			}
		}
	}
	return false
}

// monitorLine appends the line monitors see for args, run by c at now.
func monitorLine(b []byte, now time.Time, c *conn, args [][]byte) []byte {
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	us := now.Nanosecond() / 1000
	for d := 100000; d > 1 && us < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(us), 10)
	b = append(b, " [0 "...)
	if c.laddr != nil && c.laddr.Network() == "unix" {
		b = append(b, "unix:"...)
		b = append(b, c.laddr.String()...)
	} else {
		b = append(b, c.raddr.String()...)
	}
	b = append(b, "] "...)
	redact := redacted(args)
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		if i < len(redact) && redact[i] {
			a = []byte("(redacted)")
		}
		b = appendRepr(b, a)
	}
	return append(b, "\r\n"...)
}

// redacted says which arguments a monitor must not see: AUTH's, and the
// user and password of HELLO's AUTH option, as Redis redacts them. nil
// when none.
func redacted(args [][]byte) []bool {
	switch {
	case equalFold(args[0], "auth"):
		r := make([]bool, len(args))
		for i := 1; i < len(args); i++ {
			r[i] = true
		}
		return r
	case equalFold(args[0], "hello"):
		var r []bool
		for i := 2; i < len(args); i++ {
			switch {
			case equalFold(args[i], "auth") && i+2 < len(args):
				if r == nil {
					r = make([]bool, len(args))
				}
				r[i+1], r[i+2] = true, true
				i += 2
			case equalFold(args[i], "setname"):
				i++ // its value, which may read "auth"
			}
		}
		return r
	}
	return nil
}

// appendRepr appends s quoted as Redis's sdscatrepr quotes it: in double
// quotes, with \\, \", \n, \r, \t, \a and \b escaped, and other bytes that
// are not printable ASCII as \xHH.
func appendRepr(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range s {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= ' ' && ch <= '~' {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(b, '"')
}

// MONITOR: the connection streams the commands of every client until it
// closes. It sends no more commands of its own: its input is read only to
// learn that it went.
func cmdMonitor(c *respConn, args [][]byte) {
	if c.multi {
		// Redis queues it and refuses it at EXEC with this error.
		c.w.Error("ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	// Registered before the OK goes out: a client that sees the OK and
	// then runs a command sees its line.
	c.quit = true // the connection ends with its monitoring
	c.monitoring.Store(true)
	m := c.s.mon.add(c)
	defer c.s.mon.remove(m)
	c.w.OK()
	if c.w.Flush() != nil {
		return
	}
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		var buf [512]byte
		for {
			if _, err := c.nc.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	out := deadlineWriter{c.conn}
	var spare []byte
	for {
		select {
		case <-m.wake:
		case <-gone:
			return
		case <-c.stopped:
			return
		}
		b := c.s.mon.take(m, spare)
		if _, err := out.Write(b); err != nil {
			return
		}
		if cap(b) <= 64<<10 {
			spare = b // reused; a large one goes, so an idle monitor keeps little
		} else {
			spare = nil
		}
	}
}
