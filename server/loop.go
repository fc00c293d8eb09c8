package server

import (
	"errors"
	"net"
	"time"

	"github.com/sessiond/sessiond/internal/eventloop"
)

// Event loops (package eventloop, Config.EventLoops) serve RESP connections
// as Redis does: a loop reads each connection with input once, runs the
// commands read and writes their replies. A connection leaves its loop for
// a goroutine of its own, for good, when it sends a command that may wait
// or answer at length (offLoop, a write that waits for replicas, or more
// than loopMaxArgs arguments), when the socket does not take all its
// replies, and when the server shuts down: the goroutine then does what it
// does for a connection served that way from the start.

// loopMaxArgs is the most arguments of a command run on a loop: DEL or
// MSET of more keys can take long.
const loopMaxArgs = 64

// startLoops starts the event loops Config.EventLoops asks for, or returns
// nil if there are none (the server then serves every connection with a
// goroutine).
func (s *Server) startLoops() *eventloop.Group {
	if s.cfg.EventLoops <= 0 {
		return nil
	}
	var commit func() error
	if s.commitReplies {
		commit = s.st.Commit
	}
	g, err := eventloop.Start(eventloop.Config{Loops: s.cfg.EventLoops, IdleTimeout: s.cfg.Timeout, Commit: commit, Logger: s.log})
	if err != nil {
		if !errors.Is(err, eventloop.ErrUnsupported) {
			s.log.Warn("event loop not started; serving connections with goroutines", "err", err)
		}
		return nil
	}
	return g
}

// attach hands c to one of the loops g and reports whether one took it.
func attach(g *eventloop.Group, c *respConn) bool {
	var joined *eventloop.Socket
	if !g.Attach(c.nc, func(sock *eventloop.Socket) eventloop.Conn {
		joined = sock
		c.sock = sock
		c.setIO(sock)
		kill := sock.Kill
		c.killer.Store(&kill)
		return loopConn{c}
	}) {
		return false
	}
	// A CLIENT KILL while the connection joined closed nc, which the
	// loop does not read (it took a descriptor of its own): the loop
	// drops it now. (kill sets killed before it loads the killer; this
	// stores the killer before it loads killed: one of them sees the
	// other.)
	if c.killed.Load() {
		joined.Kill()
	}
	return true
}

// loopConn is a RESP connection as its event loop sees it.
type loopConn struct{ c *respConn }

// Serve runs the commands of the input the loop read.
func (lc loopConn) Serve() eventloop.Next {
	c := lc.c
	for !c.quit {
		args, err := c.rd.ReadCommand()
		if err == eventloop.ErrWouldBlock {
			return eventloop.Stay
		}
		if err != nil {
			c.readFailed(err)
			return c.closing()
		}
		cmd := c.s.lookup(args[0])
		if (cmd != nil && (cmd.flags&offLoop != 0 || (cmd.flags&write != 0 && c.s.cfg.WritesWait))) || len(args) > loopMaxArgs {
			// args alias the reader's buffer, which nothing reads
			// before the goroutine runs the command.
			c.held, c.heldArgs = cmd, args
			return eventloop.Leave
		}
		c.dispatchCmd(cmd, args)
		if c.w.Err() != nil {
			return eventloop.Drop
		}
		if c.sock.Blocked() {
			return eventloop.Leave
		}
	}
	return c.closing()
}

// Flush sends the replies kept for the end of the loop's round.
func (lc loopConn) Flush(committed bool) eventloop.Next {
	c := lc.c
	if committed {
		c.uncommitted = false // its changes came before the round's Commit
	}
	c.w.Flush()
	switch {
	case c.sock.Blocked():
		return eventloop.Leave
	case c.w.Err() != nil:
		return eventloop.Drop
	}
	// As beforeRead does: an idle connection keeps small buffers.
	c.shrink()
	return eventloop.Stay
}

// Resume serves the connection with a goroutine of its own from now on:
// it writes the replies the loop's socket did not take, runs the command
// that made the connection leave, if any, and goes on as run does.
func (lc loopConn) Resume(nc net.Conn, pending []byte) {
	c := lc.c
	cmd, args := c.held, c.heldArgs
	c.held, c.heldArgs = nil, nil
	c.sock = nil
	c.setIO(nc)
	closeNC := func() { nc.Close() }
	c.killer.Store(&closeNC)
	if c.killed.Load() { // killed as it left: the Socket's Kill came too late
		nc.Close()
	}
	go func() {
		defer c.s.connDone(c.conn)
		defer c.close()
		// The deadline the loop never set, before any write.
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		c.deadlineSet = c.s.coarseNow()
		if len(pending) > 0 {
			_, err := c.out.Write(pending)
			pending = nil // not kept for the connection's life
			if err != nil {
				c.s.log.Debug("connection write failed", "id", c.id, "err", err)
				return
			}
		}
		// The wait for the client to take the loop's replies, and for
		// this goroutine to start, is no command's time.
		c.tick = c.s.mono()
		if args != nil {
			c.dispatchCmd(cmd, args)
			if c.w.Err() != nil {
				return
			}
		}
		c.run()
	}()
}

// Close closes the connection its loop let go of.
func (lc loopConn) Close() {
	lc.c.close()
	lc.c.s.connDone(lc.c.conn)
}

// closing sends a connection's last replies, and says how it leaves its
// loop: closed, or, if the socket did not take them all, handed to a
// goroutine that writes the rest and then closes.
func (c *conn) closing() eventloop.Next {
	c.quit = true
	if c.proto.writeErr() == nil {
		// Replies kept for the round's end (Socket.Defer) go out before
		// the close: a client that sent its last command with its FIN
		// still gets the reply.
		c.proto.flush()
	}
	if c.sock.Blocked() {
		return eventloop.Leave
	}
	return eventloop.Drop
}
