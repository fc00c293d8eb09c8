package server

// The Redis protocol's connection commands: PING, ECHO, QUIT, SELECT,
// AUTH, HELLO, RESET and CLIENT.

import (
	"cmp"
	"crypto/subtle"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PING [message]
func cmdPing(c *respConn, args [][]byte) {
	switch len(args) {
	case 1:
		c.w.Simple("PONG")
	case 2:
		c.w.Bulk(args[1])
	default:
		c.w.Error("ERR wrong number of arguments for 'ping' command")
	}
}

// ECHO message
func cmdEcho(c *respConn, args [][]byte) { c.w.Bulk(args[1]) }

// QUIT: answers OK and closes once the reply is out.
func cmdQuit(c *respConn, args [][]byte) {
	c.w.OK()
	c.quit = true
}

// SELECT index: there is one database, 0.
func cmdSelect(c *respConn, args [][]byte) {
	n, ok := c.intArg(args[1])
	if !ok {
		return
	}
	if n != 0 {
		c.w.Error("ERR DB index is out of range")
		return
	}
	c.w.OK()
}

// checkPassword compares in constant time, so the reply's timing tells
// nothing about how much of a guess was right. Only the default user
// exists.
//
// Without a configured password the default user takes any password, as
// Redis's "nopass" default user does: clients configured with one still
// connect.
func (c *respConn) checkPassword(user, pass []byte) bool {
	want := c.s.cfg.RequirePass
	userOK := user == nil || string(user) == "default"
	passOK := want == "" || subtle.ConstantTimeCompare(pass, []byte(want)) == 1
	return userOK && passOK
}

func (c *respConn) setAuthed() {
	c.authed = true
	c.rd.Unauthenticated = false
}

// AUTH [username] password
func cmdAuth(c *respConn, args [][]byte) {
	if len(args) > 3 {
		c.w.Error(errSyntax)
		return
	}
	if c.s.cfg.RequirePass == "" && len(args) == 2 {
		c.w.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	var user []byte
	pass := args[1]
	if len(args) == 3 {
		user, pass = args[1], args[2]
	}
	if !c.checkPassword(user, pass) {
		c.s.log.Debug("authentication failed", "client", c.nc.RemoteAddr().String(), "id", c.id)
		c.w.Error(errWrongPass)
		return
	}
	c.setAuthed()
	c.w.OK()
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
func cmdHello(c *respConn, args [][]byte) {
	proto := c.w.Proto
	if len(args) >= 2 {
		n, ok := parseInt(args[1])
		if !ok {
			c.w.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		if n != 2 && n != 3 {
			c.w.Error("NOPROTO unsupported protocol version")
			return
		}
		proto = int(n)
	}
	var user, pass, name []byte
	for i := 2; i < len(args); i++ {
		switch {
		case equalFold(args[i], "auth") && i+2 < len(args):
			user, pass = args[i+1], args[i+2]
			i += 2
		case equalFold(args[i], "setname") && i+1 < len(args):
			name = args[i+1]
			i++
		default:
			c.w.Error("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
			return
		}
	}
	if pass != nil {
		if !c.checkPassword(user, pass) {
			c.w.Error(errWrongPass)
			return
		}
		c.setAuthed()
	}
	if !c.authed {
		c.w.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if name != nil {
		if !validName(name) {
			c.w.Error(errBadName)
			return
		}
		c.setMeta(func(m *clientMeta) { m.name = string(name) })
	}
	c.w.Proto = proto
	c.setMeta(func(m *clientMeta) { m.proto = proto })
	c.w.Map(7)
	c.w.BulkString("server")
	c.w.BulkString("redis")
	c.w.BulkString("version")
	c.w.BulkString(redisVersion)
	c.w.BulkString("proto")
	c.w.Int(int64(proto))
	c.w.BulkString("id")
	c.w.Int(c.id)
	c.w.BulkString("mode")
	c.w.BulkString("standalone")
	c.w.BulkString("role")
	c.w.BulkString("master")
	c.w.BulkString("modules")
	c.w.Array(0)
}

// redisVersion is the Redis version whose commands and replies sessiond
// follows. Clients read it to decide what they may send.
const redisVersion = "7.2.4"

const errBadName = "ERR Client names cannot contain spaces, newlines or special characters."

func validName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

// RESET: back to a fresh connection's state.
func cmdReset(c *respConn, args [][]byte) {
	c.multi, c.multiErr, c.queue, c.queueSize = false, false, nil, 0
	c.w.Proto = 2
	c.setMeta(func(m *clientMeta) { m.name, m.proto = "", 2 })
	c.authed = c.s.cfg.RequirePass == ""
	c.rd.Unauthenticated = !c.authed
	c.w.Simple("RESET")
}

// CLIENT subcommand [arguments]
func cmdClient(c *respConn, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "setname" && len(args) == 3:
		if !validName(args[2]) {
			c.w.Error(errBadName)
			return
		}
		c.setMeta(func(m *clientMeta) { m.name = string(args[2]) })
		c.w.OK()
	case sub == "getname" && len(args) == 2:
		if name := c.meta.Load().name; name == "" {
			c.w.Null()
		} else {
			c.w.BulkString(name)
		}
	case sub == "id" && len(args) == 2:
		c.w.Int(c.id)
	case sub == "setinfo" && len(args) == 4:
		v := string(args[3])
		attr := strings.ToLower(string(args[2]))
		if (attr == "lib-name" || attr == "lib-ver") && !validName(args[3]) {
			c.w.Error("ERR " + attr + " cannot contain spaces, newlines or special characters.")
			return
		}
		switch attr {
		case "lib-name":
			c.setMeta(func(m *clientMeta) { m.libName = v })
		case "lib-ver":
			c.setMeta(func(m *clientMeta) { m.libVer = v })
		default:
			c.w.Error("ERR Unrecognized option '" + string(args[2]) + "'")
			return
		}
		c.w.OK()
	case sub == "info" && len(args) == 2:
		c.w.Verbatim("txt", c.info(time.Now())+"\n")
	case sub == "list":
		c.clientList(args[2:])
	case sub == "kill":
		c.clientKill(args)
	case (sub == "no-evict" || sub == "no-touch") && len(args) == 3:
		c.w.OK()
	case sub == "help":
		c.w.Array(1)
		c.w.Simple("CLIENT <subcommand>: SETNAME, GETNAME, ID, SETINFO, INFO, LIST [TYPE type|ID id...], KILL addr|<filter value>..., NO-EVICT, NO-TOUCH, HELP")
	default:
		c.subcommandError("client", args, "setname", "getname", "id", "setinfo", "info", "list", "kill", "no-evict", "no-touch", "help")
	}
}

// clientList answers CLIENT LIST [TYPE type | ID id ...]: a line per
// connection, by id, or per id asked for, in the order asked. Every
// connection is of type normal (typeOf).
func (c *respConn) clientList(opts [][]byte) {
	var ids []int64
	typ := ""
	switch {
	case len(opts) == 0:
	case len(opts) == 2 && strings.EqualFold(string(opts[0]), "type"):
		t, ok := clientType(opts[1])
		if !ok {
			c.w.Error("ERR Unknown client type '" + string(trunc(opts[1], 128)) + "'")
			return
		}
		typ = t
	case len(opts) > 1 && strings.EqualFold(string(opts[0]), "id"):
		ids = make([]int64, 0, len(opts)-1)
		for _, o := range opts[1:] {
			id, err := strconv.ParseInt(string(o), 10, 64)
			if err != nil {
				c.w.Error("ERR Invalid client ID")
				return
			}
			ids = append(ids, id)
		}
	default:
		c.w.Error(errSyntax)
		return
	}
	c.s.mu.Lock()
	all := make([]*conn, 0, len(c.s.conns))
	for o := range c.s.conns {
		// A killed connection is gone, as in Redis, even while its
		// goroutine still closes it.
		if (typ == "" || o.typeOf() == typ) && !o.killed.Load() {
			all = append(all, o)
		}
	}
	c.s.mu.Unlock()
	slices.SortFunc(all, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	if ids != nil {
		byID := all
		all = all[:0:0]
		for _, id := range ids {
			if i, ok := slices.BinarySearchFunc(byID, id, func(o *conn, id int64) int { return cmp.Compare(o.id, id) }); ok {
				all = append(all, byID[i])
			}
		}
	}
	var b strings.Builder
	now := time.Now()
	for _, o := range all {
		b.WriteString(o.info(now))
		b.WriteByte('\n')
	}
	c.w.Verbatim("txt", b.String())
}

// subcommandError replies as Redis does to a subcommand it cannot run: a
// known one had the wrong number of arguments, or it is unknown.
func (c *respConn) subcommandError(cmd string, args [][]byte, known ...string) {
	sub := strings.ToLower(string(args[1]))
	for _, k := range known {
		if k == sub {
			c.refuseSubcommand("ERR wrong number of arguments for '" + cmd + "|" + sub + "' command")
			return
		}
	}
	c.refuseSubcommand("ERR unknown subcommand '" + string(trunc(args[1], 128)) + "'. Try " + strings.ToUpper(cmd) + " HELP.")
}

// refuseSubcommand answers a subcommand refused for its name or its number
// of arguments. Redis refuses it before running it, as it refuses an
// unknown command, so it is not counted in total_commands_processed: the
// count dispatchCmd adds once the command returns is taken back here.
func (c *respConn) refuseSubcommand(msg string) {
	c.w.Error(msg)
	c.stats.commands.Add(-1)
	c.failed = rejected // and a rejected call in its commandstats
}
