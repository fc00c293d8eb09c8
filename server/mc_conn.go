package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/memcache"
)

// mcConn is a memcached protocol connection: the shared conn, the memcached
// reader and writer, and the counters memcached's stats report.
type mcConn struct {
	*conn
	rd *memcache.Reader
	w  *memcache.Writer

	counts mcCounters
	// stalledAt is conn.stalled at tick.
	stalledAt time.Duration
	// Traffic at the last stats reset, which counters subtracts.
	inBase, outBase atomic.Int64
}

func newMCConn(s *Server, nc net.Conn) *mcConn {
	m := &mcConn{conn: newConn(s, nc, clientMeta{})}
	m.proto = m
	m.rd = memcache.NewReader(m.input(), memcache.Limits{MaxValue: s.storeOpts.MaxValueSize})
	m.rd.BeforeRead = m.beforeRead
	m.rd.AfterRead = m.afterRead
	m.w = memcache.NewWriter(deadlineWriter{m.conn})
	m.w.OnError = m.errorReplied
	return m
}

// afterRead starts the time of the commands just read and prefetches
// what they will touch.
func (m *mcConn) afterRead() {
	m.tick, m.stalledAt = m.s.mono(), m.stalled
	m.prefetch()
}

// errorReplied counts an error reply of the command running.
func (m *mcConn) errorReplied(kind string) {
	m.failed = failed
	m.s.cmdStats.errors.count("memcache", kind)
}

func (m *mcConn) next() error {
	cmd, err := m.rd.Read()
	if err != nil {
		return err
	}
	if !cmd.More { // a get of many keys comes in batches: one command
		m.stats.commands.Add(1)
	}
	if int(cmd.Op) < len(mcOpNames) {
		m.noteCmd(&mcOpNames[cmd.Op])
	}
	m.running = true
	m.dispatch(cmd)
	m.running = false
	if !cmd.More {
		m.ran(cmd)
	}
	return nil
}

// mcOpNames are the memcached commands' names by Op, for CLIENT LIST's
// cmd=: a connection points at its last one.
var mcOpNames = func() (names [memcache.Quit + 1]string) {
	for op := range names {
		names[op] = memcache.Op(op).String()
	}
	return names
}()

func (m *mcConn) flush() error    { return m.w.Flush() }
func (m *mcConn) writeErr() error { return m.w.Err() }
func (m *mcConn) shrink()         { m.rd.Shrink() }

// readFailed answers a refused command and reports whether the connection
// goes on. After a fatal refusal it flushes the reply before closing, as
// memcached does.
func (m *mcConn) readFailed(err error) bool {
	var ce *memcache.CommandError
	switch {
	case errors.As(err, &ce):
		m.stats.commands.Add(1)
		if !ce.NoReply {
			m.s.cmdStats.errors.count("memcache", ce.Reply)
			m.w.Line(ce.Reply)
		}
		if !ce.Fatal {
			return true
		}
		m.w.Flush()
		m.s.log.Debug("closing memcache connection after a protocol error", "client", m.raddr.String(), "id", m.id, "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded) && m.stopping():
		// Shutdown woke the read: what was read is answered.
		m.w.Flush()
	case errors.Is(err, errStopped), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		m.s.log.Debug("memcache connection read failed", "id", m.id, "err", err)
	}
	return false
}

// counters returns a snapshot of the connection's counts, with its
// traffic since the last stats reset.
func (m *mcConn) counters() *mcCounters {
	var t mcCounters
	t.add(&m.counts)
	t[mcBytesRead].Add(m.stats.netIn.Load() - m.inBase.Load())
	t[mcBytesWritten].Add(m.stats.netOut.Load() - m.outBase.Load())
	return &t
}
