package server

import (
	"io"
	"net"
	"time"
)

// lingerTimeout bounds how long a connection closed by Shutdown waits for
// its client to take the last replies.
const lingerTimeout = time.Second

// close closes the connection. One that Shutdown stopped while its client
// still had commands on the way first ends its side of the stream and
// reads, discarding, until the client closes or lingerTimeout passes: a
// socket closed with unread input is reset, and the reset throws away the
// replies still queued for the client, the replies of commands that did
// run. An idle connection is closed at once.
func (c *conn) close() {
	select {
	case <-c.stopped:
		if unreadInput(socket(c.nc)) {
			linger(c.nc)
		}
	default:
	}
	c.nc.Close()
}

// linger half-closes nc and drains its input until EOF, an error or
// lingerTimeout. Shutdown's own deadline closes nc, which ends it too.
func linger(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, nc)
}
