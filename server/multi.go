package server

// Transactions: MULTI queues commands, EXEC runs them, DISCARD drops
// them (respConn.dispatchCmd does the queueing).

// MULTI
func cmdMulti(c *respConn, args [][]byte) {
	if c.multi {
		c.w.Error("ERR MULTI calls can not be nested")
		return
	}
	c.multi, c.multiErr, c.queue, c.queueSize = true, false, nil, 0
	c.w.OK()
}

// EXEC runs the queued commands one after another. Other clients'
// commands on other keys may run between them: EXEC is not isolated as
// in Redis (each command on its own is atomic).
func cmdExec(c *respConn, args [][]byte) {
	if !c.multi {
		c.w.Error("ERR EXEC without MULTI")
		return
	}
	queue, failed := c.queue, c.multiErr
	c.multi, c.multiErr, c.queue, c.queueSize = false, false, nil, 0
	if failed {
		c.w.Error("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	c.w.Array(len(queue))
	for _, q := range queue {
		c.dispatch(q)
	}
}

// DISCARD
func cmdDiscard(c *respConn, args [][]byte) {
	if !c.multi {
		c.w.Error("ERR DISCARD without MULTI")
		return
	}
	c.multi, c.multiErr, c.queue, c.queueSize = false, false, nil, 0
	c.w.OK()
}
