package server

import (
	"cmp"
	"maps"
	"slices"
)

// COMMAND DOCS answers what Redis 7.2 answers for a command: a map of its
// summary, group, complexity and arguments, which redis-cli reads on start
// for its help and hints. sessiond keeps docs for the commands Redis does
// not have, the SESSION.* family; a command without docs (every one Redis
// documents already) is left out of the reply, as Redis leaves out a name
// it does not know, with or without names asked for. So redis-cli's
// "help SESSION.REVOKE" and its hints work, and a client that reads the
// docs of GET finds none rather than some that might differ from Redis's.
//
// The SESSION.* commands are what Redis calls module commands (a dotted
// name, beyond Redis's own set): their group is "module", as Redis always
// answers for those, and "module" names sessiond. They have no "since":
// sessiond has no numbered release yet to name.

// commandDoc is a command's COMMAND DOCS entry. An empty field is left out
// of the reply, as Redis leaves out one a command does not have.
type commandDoc struct {
	summary    string
	since      string
	group      string // Redis's group; "module" for the SESSION.* family
	complexity string
	module     string // the module that adds the command, for group "module"
	args       []argDoc
}

// argDoc is one argument of a command's docs: Redis's
// struct redisCommandArg.
type argDoc struct {
	name string
	typ  argType
	// display is the name redis-cli shows (display_text); if empty, name.
	display string
	token   string // the word that comes before it, if any ("EX")
	flags   argFlags
	args    []argDoc // a oneof's choices or a block's parts
}

// argType is an argument's type, as COMMAND DOCS names it.
type argType string

const (
	argString   argType = "string"
	argInteger  argType = "integer"
	argKey      argType = "key"
	argUnixTime argType = "unix-time"
	argToken    argType = "pure-token" // only its token
	argOneOf    argType = "oneof"      // one of args
	argBlock    argType = "block"      // args, in order
)

// argFlags are an argument's flags, as COMMAND DOCS names them.
type argFlags uint8

const (
	optional      argFlags = 1 << iota // may be left out
	multiple                           // may repeat
	multipleToken                      // repeats with its token
)

// commandDocs are the docs COMMAND DOCS answers, by command name.
var commandDocs = map[string]*commandDoc{
	"session.list": {
		summary:    "Returns the user's live sessions, the most recently written first: each one's key, ttl (milliseconds left, -1 for none), written (unix milliseconds) and size (bytes).",
		group:      "module",
		complexity: "O(N) where N is the number of the user's sessions.",
		module:     "sessiond",
		args:       []argDoc{{name: "user", typ: argString}},
	},
	"session.count": {
		summary:    "Returns the number of the user's live sessions.",
		group:      "module",
		complexity: "O(N) where N is the number of the user's sessions.",
		module:     "sessiond",
		args:       []argDoc{{name: "user", typ: argString}},
	},
	"session.revoke": {
		summary:    "Deletes every live session of the user but the ones named after EXCEPT, and returns how many were deleted.",
		group:      "module",
		complexity: "O(N) where N is the number of the user's sessions.",
		module:     "sessiond",
		args: []argDoc{
			{name: "user", typ: argString},
			{name: "key", typ: argKey, token: "EXCEPT", flags: optional | multiple},
		},
	},
	"session.merge": {
		summary:    "Applies a JSON merge patch (RFC 7386) to the session atomically and returns the result, keeping its expiry unless one is given.",
		group:      "module",
		complexity: "O(N) where N is the length of the session and the patch.",
		module:     "sessiond",
		args: []argDoc{
			{name: "key", typ: argKey},
			{name: "patch", typ: argString},
			{name: "expiration", typ: argOneOf, flags: optional, args: []argDoc{
				{name: "seconds", typ: argInteger, token: "EX"},
				{name: "milliseconds", typ: argInteger, token: "PX"},
				{name: "unix-time-seconds", typ: argUnixTime, token: "EXAT"},
				{name: "unix-time-milliseconds", typ: argUnixTime, token: "PXAT"},
				{name: "keepttl", typ: argToken, token: "KEEPTTL"},
			}},
		},
	},
}

// COMMAND DOCS [command-name ...]: every documented command, or the
// documented ones among the names, in the order asked.
func (c *respConn) replyDocs(names [][]byte) {
	var list []*command
	if len(names) == 0 {
		for _, name := range slices.Sorted(maps.Keys(commandDocs)) {
			if cmd := c.s.cmds[name]; cmd != nil {
				list = append(list, cmd)
			}
		}
	} else {
		for _, n := range names {
			if cmd := c.s.lookup(n); cmd != nil && commandDocs[cmd.name] != nil {
				list = append(list, cmd)
			}
		}
	}
	c.w.Map(len(list))
	for _, cmd := range list {
		c.w.BulkString(cmd.name)
		c.writeDoc(commandDocs[cmd.name])
	}
}

// writeDoc writes a command's docs as Redis's addReplyCommandDocs does:
// its fields in the same order, each only if the command has it.
func (c *respConn) writeDoc(d *commandDoc) {
	fields := []struct{ name, value string }{
		{"summary", d.summary},
		{"since", d.since},
		{"group", d.group},
		{"complexity", d.complexity},
		{"module", d.module},
	}
	n := 0
	for _, f := range fields {
		if f.value != "" {
			n++
		}
	}
	if len(d.args) > 0 {
		n++
	}
	c.w.Map(n)
	for _, f := range fields {
		if f.value != "" {
			c.w.BulkString(f.name)
			c.w.BulkString(f.value)
		}
	}
	if len(d.args) > 0 {
		c.w.BulkString("arguments")
		c.writeArgs(d.args)
	}
}

// writeArgs writes arguments as Redis's addReplyCommandArgList does: a
// oneof or a block has its arguments and no display_text, any other
// argument the reverse.
func (c *respConn) writeArgs(args []argDoc) {
	c.w.Array(len(args))
	for _, a := range args {
		nested := a.typ == argOneOf || a.typ == argBlock
		n := 3 // name, type, and display_text or arguments
		if a.token != "" {
			n++
		}
		if a.flags != 0 {
			n++
		}
		c.w.Map(n)
		c.w.BulkString("name")
		c.w.BulkString(a.name)
		c.w.BulkString("type")
		c.w.BulkString(string(a.typ))
		if !nested {
			c.w.BulkString("display_text")
			c.w.BulkString(cmp.Or(a.display, a.name))
		}
		if a.token != "" {
			c.w.BulkString("token")
			c.w.BulkString(a.token)
		}
		if a.flags != 0 {
			c.w.BulkString("flags")
			c.writeArgFlags(a.flags)
		}
		if nested {
			c.w.BulkString("arguments")
			c.writeArgs(a.args)
		}
	}
}

// writeArgFlags writes an argument's flags as Redis does: a set of
// simple strings.
func (c *respConn) writeArgFlags(f argFlags) {
	names := []struct {
		flag argFlags
		name string
	}{{optional, "optional"}, {multiple, "multiple"}, {multipleToken, "multiple_token"}}
	n := 0
	for _, x := range names {
		if f&x.flag != 0 {
			n++
		}
	}
	c.w.Set(n)
	for _, x := range names {
		if f&x.flag != 0 {
			c.w.Simple(x.name)
		}
	}
}
