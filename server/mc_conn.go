package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/sessiond/sessiond/internal/memcache"
	"github.com/sessiond/sessiond/internal/prefetch"
)

// mcConn is a memcached protocol connection. Its conn holds what every
// connection has (id, counters, deadlines, stop), so that limits, INFO,
// CLIENT LIST and shutdown treat both protocols alike; its reader and writer
// speak memcached.
type mcConn struct {
	c  *conn
	s  *Server
	rd *memcache.Reader
	w  *memcache.Writer

	counts mcCounters
	// Traffic at the last stats reset, which counters subtracts.
	inBase, outBase atomic.Int64

	scratch []byte // reused buffer for values on their way out
}

func newMCConn(s *Server, nc net.Conn) *mcConn {
	c := &conn{
		s:       s,
		nc:      nc,
		id:      s.nextID.Add(1),
		created: time.Now(),
		authed:  true, // nothing to authenticate with; see checkMemcacheAddr
		stopped: make(chan struct{}),
	}
	c.meta.Store(&clientMeta{libName: "memcache"})
	in := io.Reader(nc)
	if raw := newRawIO(nc); raw != nil {
		in, c.out = raw, raw
	} else {
		c.out = nc
	}
	m := &mcConn{c: c, s: s}
	m.rd = memcache.NewReader(countingReader{in, &c.stats.netIn}, memcache.Limits{MaxValue: s.storeOpts.MaxValueSize})
	m.rd.BeforeRead = m.beforeRead
	m.rd.AfterRead = m.prefetch
	m.w = memcache.NewWriter(deadlineWriter{c})
	return m
}

// beforeRead runs when the connection would wait for input: the batch of
// commands it sent is done, so its replies go out now.
func (m *mcConn) beforeRead() error {
	if err := m.w.Flush(); err != nil {
		return err
	}
	m.rd.Shrink()
	if m.s.cfg.Timeout > 0 {
		m.c.nc.SetReadDeadline(time.Now().Add(m.s.cfg.Timeout))
	}
	if m.stopping() {
		return errStopped
	}
	return nil
}

// prefetch asks the store for the memory the commands just read will touch,
// when they have more than one key, as conn.prefetch does.
func (m *mcConn) prefetch() {
	if !prefetch.Helps(m.s.st) {
		return
	}
	var b prefetch.Batch
	m.rd.Ahead(prefetch.MaxKeys, func(key []byte, value bool) {
		b.Add(str(key))
		b.Values = b.Values || value
	})
	if b.N >= 2 {
		prefetch.Keys(m.s.st, b)
	}
}

// stopping reports whether Shutdown has asked the connection to close.
func (m *mcConn) stopping() bool {
	select {
	case <-m.c.stopped:
		return true
	default:
		return false
	}
}

func (m *mcConn) serve() {
	m.s.addMCConn(m)
	defer m.s.removeMCConn(m)
	defer m.c.close()
	for !m.c.quit {
		cmd, err := m.rd.Read()
		if err != nil {
			if m.readFailed(err) {
				continue
			}
			return
		}
		if !cmd.More { // a get of many keys comes in batches: one command
			m.c.stats.commands.Add(1)
		}
		m.dispatch(cmd)
		if m.w.Err() != nil {
			return
		}
	}
	m.w.Flush()
}

// readFailed answers a refused command and reports whether the connection
// goes on. After a fatal refusal it flushes the reply before closing, as
// memcached does.
func (m *mcConn) readFailed(err error) bool {
	var ce *memcache.CommandError
	switch {
	case errors.As(err, &ce):
		m.c.stats.commands.Add(1)
		if !ce.NoReply {
			m.w.Line(ce.Reply)
		}
		if !ce.Fatal {
			return true
		}
		m.w.Flush()
		m.s.log.Debug("closing memcache connection after a protocol error", "client", m.c.nc.RemoteAddr().String(), "id", m.c.id, "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded) && m.stopping():
		// Shutdown woke the read: what was read is answered.
		m.w.Flush()
	case errors.Is(err, errStopped), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		m.s.log.Debug("memcache connection read failed", "id", m.c.id, "err", err)
	}
	return false
}

// counters returns a snapshot of the connection's counts, with its
// traffic since the last stats reset.
func (m *mcConn) counters() *mcCounters {
	var t mcCounters
	t.add(&m.counts)
	t[mcBytesRead].Add(m.c.stats.netIn.Load() - m.inBase.Load())
	t[mcBytesWritten].Add(m.c.stats.netOut.Load() - m.outBase.Load())
	return &t
}
