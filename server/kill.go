package server

import (
	"strings"
	"time"
)

// CLIENT KILL, as Redis answers it: the old form, CLIENT KILL addr:port,
// answers OK or "No such client" and may kill the caller; the new form,
// filters in pairs, answers how many it killed and skips the caller unless
// SKIPME no. A killed connection closes at once, wherever it is: reading,
// in an event loop, waiting in WAIT or streaming MONITOR. The caller, if
// killed, closes once its reply is out.

// kill closes the connection now, from any goroutine. The replies it has
// not sent are lost, as in Redis.
func (c *conn) kill() {
	c.killed.Store(true)
	(*c.killer.Load())()
	c.end() // a WAIT under way gives up: nobody reads its answer
}

// killFilter is what CLIENT KILL's new form matches; zero fields match
// every connection.
type killFilter struct {
	addr, laddr *string // nil: any
	user        *string
	typ         string // "": any; normal, replica, master, pubsub
	id          int64
	maxAge      int64 // seconds; 0: any
	skipMe      bool
}

// clientKill answers CLIENT KILL; args are CLIENT's.
func (c *respConn) clientKill(args [][]byte) {
	var f killFilter
	oldForm := len(args) == 3
	switch {
	case oldForm:
		addr := string(args[2])
		f.addr = &addr
	case len(args) > 3:
		f.skipMe = true
		if !c.parseKillFilter(args[2:], &f) {
			return
		}
	default: // CLIENT KILL alone
		c.refuseSubcommand("ERR wrong number of arguments for 'client|kill' command")
		return
	}
	c.s.mu.Lock()
	var victims []*conn
	now := time.Now()
	self := false
	for o := range c.s.conns {
		if o.killed.Load() || !f.matches(o, now) {
			continue // killed already: gone, as in Redis
		}
		if o == c.conn {
			if f.skipMe {
				continue
			}
			self = true
		} else {
			victims = append(victims, o)
		}
	}
	c.s.mu.Unlock()
	for _, o := range victims {
		o.kill()
	}
	killed := len(victims)
	if self {
		killed++
		c.quit = true // after this reply
	}
	switch {
	case !oldForm:
		c.w.Int(int64(killed))
	case killed == 0:
		c.w.Error("ERR No such client")
	default:
		c.w.OK()
	}
}

// parseKillFilter reads the new form's option pairs into f, replying with
// Redis's error and returning false on a bad one.
func (c *respConn) parseKillFilter(opts [][]byte, f *killFilter) bool {
	for i := 0; i < len(opts); i += 2 {
		if i+1 == len(opts) {
			c.w.Error(errSyntax)
			return false
		}
		v := opts[i+1]
		switch strings.ToLower(string(opts[i])) {
		case "id":
			id, ok := parseInt(v)
			if !ok || id < 1 {
				c.w.Error("ERR client-id should be greater than 0")
				return false
			}
			f.id = id
		case "maxage":
			n, ok := parseInt(v)
			if !ok {
				c.w.Error("ERR maxage is not an integer or out of range")
				return false
			}
			if n <= 0 {
				c.w.Error("ERR maxage should be greater than 0")
				return false
			}
			f.maxAge = n
		case "type":
			typ, ok := clientType(v)
			if !ok {
				c.w.Error("ERR Unknown client type '" + string(trunc(v, 128)) + "'")
				return false
			}
			f.typ = typ
		case "addr":
			a := string(v)
			f.addr = &a
		case "laddr":
			a := string(v)
			f.laddr = &a
		case "user":
			if string(v) != "default" { // the one user there is
				c.w.Error("ERR No such user '" + string(trunc(v, 128)) + "'")
				return false
			}
			u := string(v)
			f.user = &u
		case "skipme":
			switch {
			case equalFold(v, "yes"):
				f.skipMe = true
			case equalFold(v, "no"):
				f.skipMe = false
			default:
				c.w.Error(errSyntax)
				return false
			}
		default:
			c.w.Error(errSyntax)
			return false
		}
	}
	return true
}

// clientType reads a client type as Redis names them, replica and slave
// being one.
func clientType(b []byte) (string, bool) {
	switch t := strings.ToLower(string(b)); t {
	case "normal", "master", "pubsub", "replica":
		return t, true
	case "slave":
		return "replica", true
	}
	return "", false
}

// typeOf is the connection's client type: normal, as no master, replica
// or pubsub client connects to sessiond. A monitor is normal too: Redis
// marks it a replica inside but shows it as normal.
func (c *conn) typeOf() string { return "normal" }

// matches reports whether o is one the filter kills.
func (f *killFilter) matches(o *conn, now time.Time) bool {
	switch {
	case f.addr != nil && o.peerID() != *f.addr,
		f.laddr != nil && o.sockName() != *f.laddr,
		f.typ != "" && o.typeOf() != f.typ,
		f.id != 0 && o.id != f.id,
		f.maxAge != 0 && int64(now.Sub(o.created).Seconds()) < f.maxAge:
		return false
	case f.user != nil:
		// Every RESP connection is the default user's; a memcached one
		// is no user's.
		_, mc := o.proto.(*mcConn)
		return !mc
	}
	return true
}
