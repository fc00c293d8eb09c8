// Package eventloop serves network connections the way Redis does: a loop
// waits on an epoll set for every connection it serves, and for each one
// with input reads once, runs the commands read and writes their replies.
// A request over TCP so costs one read and one write; a goroutine per
// connection costs one more read (the one that finds the socket empty
// before the goroutine parks) and a goroutine wake-up per connection.
//
// The package knows nothing of a protocol. A connection joins a loop with
// Group.Attach, which gives it a Socket to read and write, and the loop
// calls its Conn methods: Serve when input came, Flush at the end of a
// round in which it deferred its replies, Resume when it leaves the loop
// for a goroutine of its own, Close when it is done.
//
// Loops run on Linux only; elsewhere Start returns ErrUnsupported, and the
// caller serves its connections with goroutines.
package eventloop

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// Conn is a connection served by a loop.
type Conn interface {
	// Serve runs the commands of the input the connection's Socket holds,
	// writing their replies to it, and says what the loop does with the
	// connection next. The Socket reads once per round: after that read,
	// and when the socket is empty, Read returns ErrWouldBlock, and Serve
	// returns.
	Serve() Next
	// Flush sends the replies the connection kept for the end of the
	// round (Socket.Defer), after the round's Config.Commit; committed
	// reports whether the Commit succeeded.
	Flush(committed bool) Next
	// Resume serves the connection from now on with a goroutine of its
	// own, reading and writing nc, the same socket as a net.Conn. pending
	// are the replies the Socket did not take, to be written first.
	Resume(nc net.Conn, pending []byte)
	// Close closes the connection: the loop has let go of it (the client
	// went, Serve or Flush said Drop, or it was idle past
	// Config.IdleTimeout).
	Close()
}

// Next is what a loop does with a connection after Serve or Flush.
type Next uint8

const (
	// Stay keeps the connection in the loop.
	Stay Next = iota
	// Leave hands it to a goroutine of its own (Conn.Resume): for a
	// command that may wait or answer at length, or when the Socket is
	// Blocked.
	Leave
	// Drop closes it (Conn.Close).
	Drop
)

// Config configures a Group.
type Config struct {
	// Loops is the number of loops, at least 1.
	Loops int
	// IdleTimeout closes a connection that sent nothing for that long.
	// Zero: never.
	IdleTimeout time.Duration
	// Commit, if set, runs once at the end of a round in which
	// connections deferred their replies (Socket.Defer), before they are
	// flushed: the store's one write of its log for all of them.
	Commit func() error
	// Logger receives the loops' warnings. Nil: slog.Default().
	Logger *slog.Logger
}

// ErrWouldBlock is a Socket's Read once the round's read is done or the
// socket is empty: Conn.Serve returns then.
var ErrWouldBlock = errors.New("eventloop: would block")

// ErrUnsupported is Start's error where loops cannot run.
var ErrUnsupported = errors.New("eventloop: not supported on this system")
