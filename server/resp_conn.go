package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/sessiond/sessiond/internal/resp"
)

// respConn is a Redis protocol connection: the shared conn, the RESP reader
// and writer, and the protocol's per-connection state.
type respConn struct {
	*conn
	rd *resp.Reader
	w  *resp.Writer

	authed  bool
	lastCmd string

	multi     bool       // inside MULTI
	multiErr  bool       // a command failed to queue: EXEC aborts
	queue     [][][]byte // commands queued by MULTI, copied
	queueSize int        // bytes in queue, bounded by MaxCommand

	// held is the command that made the connection leave its event loop,
	// for its goroutine to run first.
	held     *command
	heldArgs [][]byte
}

func newRESPConn(s *Server, nc net.Conn) *respConn {
	c := &respConn{conn: newConn(s, nc, clientMeta{proto: 2}), authed: s.cfg.RequirePass == ""}
	c.proto = c
	c.rd = resp.NewReader(c.input(), resp.Limits{
		MaxArgs:    s.cfg.MaxArgs,
		MaxBulk:    s.cfg.MaxBulk,
		MaxCommand: s.cfg.MaxCommand,
	})
	c.rd.Unauthenticated = !c.authed
	c.rd.BeforeRead = c.beforeRead
	c.rd.AfterRead = c.afterRead
	c.w = resp.NewWriter(deadlineWriter{c.conn})
	c.w.OnError = c.errorReplied
	return c
}

// afterRead starts the time of the commands just read and prefetches
// what they will touch.
func (c *respConn) afterRead() {
	c.tick = c.s.mono()
	c.prefetch()
}

// errorReplied counts an error reply of the command running.
func (c *respConn) errorReplied(msg string) {
	c.failed = max(c.failed, failed)
	c.s.cmdStats.errors.count("redis", msg)
}

func (c *respConn) next() error {
	args, err := c.rd.ReadCommand()
	if err != nil {
		return err
	}
	c.dispatch(args)
	return nil
}

func (c *respConn) flush() error    { return c.w.Flush() }
func (c *respConn) writeErr() error { return c.w.Err() }

func (c *respConn) shrink() {
	c.rd.Shrink()
	c.w.Shrink()
}

// readFailed answers a protocol error before closing, as Redis does, and
// logs what is unusual. The connection never goes on.
func (c *respConn) readFailed(err error) bool {
	var pe *resp.ProtocolError
	switch {
	case errors.As(err, &pe):
		c.w.Error("ERR " + pe.Error())
		c.w.Flush()
		c.s.log.Debug("closing connection after a protocol error", "client", c.raddr.String(), "id", c.id, "err", err)
	case errors.Is(err, errStopped), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		if c.stopping() {
			// Shutdown woke the read; nothing was half-read.
			c.w.Flush()
		} else {
			c.s.log.Debug("closing idle connection", "id", c.id, "timeout", c.s.cfg.Timeout)
		}
	default:
		c.s.log.Debug("connection read failed", "id", c.id, "err", err)
	}
	return false
}

// dispatch runs one command: it looks the command up, checks arity and
// authentication, queues it inside MULTI, and calls it.
func (c *respConn) dispatch(args [][]byte) { c.dispatchCmd(c.s.lookup(args[0]), args) }

// dispatchCmd is dispatch with the command looked up: cmd, nil if args[0]
// names none.
func (c *respConn) dispatchCmd(cmd *command, args [][]byte) {
	// Redis checks that the command exists and has its arguments before
	// it checks authentication; so does this.
	if cmd == nil {
		c.refuse(nil, args, unknownCommand(args))
		return
	}
	c.lastCmd = cmd.name
	c.noteCmd(&cmd.name)
	switch {
	case (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity):
		c.refuse(cmd, args, "ERR wrong number of arguments for '"+cmd.name+"' command")
		return
	case !c.authed && cmd.flags&noAuth == 0:
		c.refuse(cmd, args, errNoAuth)
		return
	case cmd.flags&(write|readonly) != 0 && !c.s.ready.Load():
		c.refuse(cmd, args, errLoading)
		return
	}
	if c.s.commitReplies && cmd.flags&write != 0 && !c.multi {
		c.uncommitted = true
	}
	if c.multi && cmd.flags&noQueue == 0 {
		c.enqueue(args)
		return
	}
	// A command inside EXEC has its own time and failure; EXEC's time
	// includes theirs.
	start, stalled, outer, running := c.tick, c.stalled, c.failed, c.running
	c.failed, c.running = succeeded, true
	cmd.fn(c, args)
	c.running = running
	c.stats.commands.Add(1) // after: as in Redis, INFO does not count itself, a refused or queued command not at all
	c.ran(cmd, args, start, stalled)
	c.failed = outer
	c.s.mon.feed(c.conn, cmd, args)
}

// refuse answers a command refused before it ran (cmd nil: unknown); a
// refusal inside MULTI makes EXEC abort.
func (c *respConn) refuse(cmd *command, args [][]byte, msg string) {
	if c.multi {
		c.multiErr = true
	}
	if cmd != nil {
		counted(cmd, args).stat.reject(int(c.id))
	}
	c.w.Error(msg)
}

// enqueue copies a command into the MULTI queue.
func (c *respConn) enqueue(args [][]byte) {
	q := make([][]byte, len(args))
	// What the copy really takes: the bytes, a slice header per argument
	// and the queue's slot.
	c.queueSize += 24 + 24*len(args)
	for i, a := range args {
		q[i] = append([]byte(nil), a...)
		c.queueSize += len(a)
	}
	if c.queueSize > c.s.cfg.MaxCommand {
		// Drop the queue now: a transaction cannot hold more memory than
		// one command may.
		c.queue, c.multiErr = nil, true
		c.w.Error(fmt.Sprintf("ERR transaction too large: more than %d bytes queued", c.s.cfg.MaxCommand))
		return
	}
	c.queue = append(c.queue, q)
	c.w.Simple("QUEUED")
}

// unknownCommand is Redis's reply to a command it does not have, built as
// Redis builds it: the name cut at 128 bytes, and the arguments quoted
// while they take fewer than 128 bytes, each cut to what is left.
func unknownCommand(args [][]byte) string {
	var list []byte
	for _, a := range args[1:] {
		if len(list) >= 128 {
			break
		}
		n := 128 - len(list)
		list = append(list, '\'')
		list = append(list, trunc(a, n)...)
		list = append(list, "' "...)
	}
	return "ERR unknown command '" + string(trunc(args[0], 128)) + "', with args beginning with: " + string(list)
}

func trunc(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
