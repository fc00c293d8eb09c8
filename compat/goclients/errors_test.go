package goclients

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// errorChecks pin Redis's exact error replies. Clients show them to
// people and some match on them, so a compatible server writes the same
// text: the prefix (ERR, WRONGPASS, ...) and the message.
var errorChecks = []check{
	{"error-replies", checkErrorReplies},
}

// Error texts of Redis 7.0, pinned by the tests.
const (
	errSyntax     = "ERR syntax error"
	errNotInteger = "ERR value is not an integer or out of range"
)

// errArity is Redis's reply to a wrong number of arguments; the command
// name is lower case whatever case the client sent.
func errArity(cmd string) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s' command", cmd)
}

// errExpireTime is the reply to a TTL that is zero or negative where only
// a positive one makes sense.
func errExpireTime(cmd string) string {
	return fmt.Sprintf("ERR invalid expire time in '%s' command", cmd)
}

// errorCases are commands with what Redis 7.0.15 replies. The key err:k
// exists when they run.
var errorCases = []struct {
	args []any
	want string
}{
	// Arity.
	{[]any{"set", "err:k"}, errArity("set")},
	{[]any{"SET", "err:k"}, errArity("set")},
	{[]any{"get"}, errArity("get")},
	{[]any{"get", "err:k", "extra"}, errArity("get")},
	{[]any{"getdel"}, errArity("getdel")},
	{[]any{"getex"}, errArity("getex")},
	{[]any{"setex", "err:k", "10"}, errArity("setex")},
	{[]any{"mget"}, errArity("mget")},
	{[]any{"mset", "a"}, errArity("mset")},
	{[]any{"mset", "a", "b", "c"}, errArity("mset")},
	{[]any{"del"}, errArity("del")},
	{[]any{"unlink"}, errArity("unlink")},
	{[]any{"exists"}, errArity("exists")},
	{[]any{"expire", "err:k"}, errArity("expire")},
	{[]any{"ttl"}, errArity("ttl")},
	{[]any{"persist"}, errArity("persist")},
	{[]any{"type"}, errArity("type")},
	{[]any{"scan"}, errArity("scan")},
	{[]any{"keys"}, errArity("keys")},
	{[]any{"echo"}, errArity("echo")},
	{[]any{"echo", "a", "b"}, errArity("echo")},
	{[]any{"ping", "a", "b"}, errArity("ping")},
	{[]any{"wait"}, errArity("wait")},
	{[]any{"dbsize", "extra"}, errArity("dbsize")},
	{[]any{"config", "get"}, errArity("config|get")},

	// SET options.
	{[]any{"set", "err:k", "v", "foo"}, errSyntax},
	{[]any{"set", "err:k", "v", "NX", "XX"}, errSyntax},
	{[]any{"set", "err:k", "v", "EX", "10", "PX", "100"}, errSyntax},
	{[]any{"set", "err:k", "v", "KEEPTTL", "EX", "10"}, errSyntax},
	{[]any{"set", "err:k", "v", "EX"}, errSyntax},
	{[]any{"set", "err:k", "v", "EX", "abc"}, errNotInteger},
	{[]any{"set", "err:k", "v", "EX", "0"}, errExpireTime("set")},
	{[]any{"set", "err:k", "v", "EX", "-5"}, errExpireTime("set")},
	{[]any{"set", "err:k", "v", "PX", "0"}, errExpireTime("set")},
	{[]any{"setex", "err:k", "0", "v"}, errExpireTime("setex")},
	{[]any{"setex", "err:k", "abc", "v"}, errNotInteger},
	{[]any{"psetex", "err:k", "-1", "v"}, errExpireTime("psetex")},
	{[]any{"getex", "err:k", "EX", "0"}, errExpireTime("getex")},
	{[]any{"getex", "err:k", "PERSIST", "EX", "10"}, errSyntax},
	{[]any{"getex", "err:k", "FOO"}, errSyntax},

	// EXPIRE family.
	{[]any{"expire", "err:k", "abc"}, errNotInteger},
	{[]any{"pexpireat", "err:k", "abc"}, errNotInteger},
	{[]any{"expire", "err:k", "10", "NX", "XX"}, "ERR NX and XX, GT or LT options at the same time are not compatible"},
	{[]any{"expire", "err:k", "10", "NX", "GT"}, "ERR NX and XX, GT or LT options at the same time are not compatible"},
	{[]any{"expire", "err:k", "10", "GT", "LT"}, "ERR GT and LT options at the same time are not compatible"},
	{[]any{"expire", "err:k", "10", "FOO"}, "ERR Unsupported option FOO"},

	// SCAN.
	{[]any{"scan", "abc"}, "ERR invalid cursor"},
	{[]any{"scan", "0", "COUNT", "0"}, errSyntax},
	{[]any{"scan", "0", "COUNT", "abc"}, errNotInteger},
	{[]any{"scan", "0", "MATCH"}, errSyntax},
	{[]any{"scan", "0", "FOO"}, errSyntax},

	// Connection and server.
	{[]any{"select", "abc"}, errNotInteger},
	{[]any{"wait", "abc", "0"}, errNotInteger},
	{[]any{"client", "foo"}, "ERR unknown subcommand 'foo'. Try CLIENT HELP."},
	{[]any{"hello", "4"}, "NOPROTO unsupported protocol version"},
	{[]any{"hello", "abc"}, "ERR Protocol version is not an integer or out of range"},
	{[]any{"exec"}, "ERR EXEC without MULTI"},
	{[]any{"discard"}, "ERR DISCARD without MULTI"},

	// Unknown commands: the name as sent, then each argument quoted and
	// followed by a space.
	{[]any{"foo", "bar", "baz"}, "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "},
	{[]any{"FOOBAR"}, "ERR unknown command 'FOOBAR', with args beginning with: "},
}

// checkErrorReplies sends each command on the same pooled client, which
// also shows that an error reply leaves the connection usable.
func checkErrorReplies(t *testing.T, e env) {
	want(t, e.rdb.Set(e.ctx, "err:k", "v", 0), "OK")
	for _, c := range errorCases {
		name := strings.ReplaceAll(join(c.args), " ", "_")
		t.Run(name, func(t *testing.T) {
			wantErr(t, e.rdb.Do(e.ctx, c.args...), c.want)
		})
	}
	// None of them wrote anything.
	want(t, e.rdb.Get(e.ctx, "err:k"), "v")
	want(t, e.rdb.TTL(e.ctx, "err:k"), time.Duration(-1))
}
