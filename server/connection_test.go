package server_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/server"
)

func TestClientCommands(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	other := ts.dial(t)
	runSteps(t, c, []step{
		s(null, "CLIENT", "GETNAME"),
		s(ok, "CLIENT", "SETNAME", "web-1"),
		s(bulk("web-1"), "CLIENT", "GETNAME"),
		s("-ERR Client names cannot contain spaces, newlines or special characters.\r\n", "CLIENT", "SETNAME", "a b"),
		s("-ERR Client names cannot contain spaces, newlines or special characters.\r\n", "CLIENT", "SETNAME", "a\nb"),
		s(bulk("web-1"), "CLIENT", "GETNAME"),
		s(ok, "client", "setinfo", "lib-name", "node-redis"),
		s(ok, "CLIENT", "SETINFO", "LIB-VER", "4.6.0"),
		s("-ERR Unrecognized option 'foo'\r\n", "CLIENT", "SETINFO", "foo", "bar"),
		s(ok, "CLIENT", "NO-EVICT", "on"),
	})
	id, isInt := c.do("CLIENT", "ID").V.(int64)
	otherID, _ := other.do("CLIENT", "ID").V.(int64)
	if !isInt || id <= 0 || otherID == id {
		t.Errorf("CLIENT ID: %d and %d, want distinct positive integers", id, otherID)
	}

	r := c.do("CLIENT", "LIST")
	list, isStr := r.V.(string)
	if !isStr || !strings.HasSuffix(list, "\n") {
		t.Fatalf("CLIENT LIST: got %q, want a bulk string of lines", r.Raw)
	}
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 2 {
		t.Errorf("CLIENT LIST has %d lines, want 2:\n%s", len(lines), list)
	}
	idRE := regexp.MustCompile(`(?:^| )id=` + strconv.FormatInt(id, 10) + ` `)
	var mine string
	for _, l := range lines {
		if idRE.MatchString(l) {
			mine = l
		}
	}
	for _, field := range []string{"name=web-1 ", "lib-name=node-redis ", "lib-ver=4.6.0", "addr=127.0.0.1:", "db=0 ", "resp=2"} {
		if !strings.Contains(mine, field) {
			t.Errorf("CLIENT LIST line for id %d lacks %q: %q", id, field, mine)
		}
	}
	r = c.do("CLIENT", "INFO")
	if info, isStr := r.V.(string); !isStr || !idRE.MatchString(info) || !strings.HasSuffix(info, "\n") || strings.Count(info, "\n") != 1 {
		t.Errorf("CLIENT INFO: got %q, want this connection's line", r.Raw)
	}
	// In RESP3 both are verbatim strings.
	c.do("HELLO", "3")
	if r := c.do("CLIENT", "INFO"); !strings.HasPrefix(r.Raw, "=") || !strings.Contains(r.Raw, "resp=3") {
		t.Errorf("CLIENT INFO in RESP3: got %q, want a verbatim string with resp=3", r.Raw)
	}
	if r := c.do("CLIENT", "LIST"); !strings.HasPrefix(r.Raw, "=") {
		t.Errorf("CLIENT LIST in RESP3: got %q, want a verbatim string", r.Raw)
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Version: "1.2.3"}, nil)
	c := ts.dial(t)
	r := c.do("INFO")
	text, isStr := r.V.(string)
	if !isStr {
		t.Fatalf("INFO: got %q, want a bulk string", r.Raw)
	}
	for _, want := range []string{"# Server\r\n", "\r\nredis_version:", "\r\nredis_mode:standalone\r\n", "# Clients\r\n",
		"\r\nconnected_clients:1\r\n", "# Memory\r\n", "\r\nmaxmemory:", "# Persistence\r\n", "\r\nloading:0\r\n",
		"# Stats\r\n", "# Replication\r\n", "\r\nrole:master\r\n", "# Keyspace\r\n", "\r\ntcp_port:" + ts.tcp[strings.LastIndexByte(ts.tcp, ':')+1:] + "\r\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	if !strings.HasSuffix(text, "\r\n") {
		t.Errorf("INFO does not end in CRLF: %q", text[max(0, len(text)-40):])
	}
	// Every line is a header, a field or a blank between sections.
	for _, l := range strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n") {
		if l != "" && !strings.HasPrefix(l, "# ") && !strings.Contains(l, ":") {
			t.Errorf("INFO line %q is neither a header nor a field", l)
		}
	}
	if strings.Contains(text, "db0:") {
		t.Errorf("INFO keyspace lists db0 for an empty store")
	}
	c.expect(ok, "SET", "a", "1")
	c.expect(ok, "SET", "b", "1", "EX", "100")
	if l := infoField(t, c, "db0"); !strings.HasPrefix(l, "keys=2,") {
		t.Errorf("INFO db0:%s, want keys=2,...", l)
	}

	r = c.do("INFO", "server")
	if text, _ := r.V.(string); !strings.HasPrefix(text, "# Server\r\n") || strings.Contains(text, "# Clients") {
		t.Errorf("INFO server: got %q, want the server section only", clip([]byte(r.Raw)))
	}
	r = c.do("info", "KEYSPACE")
	if text, _ := r.V.(string); !strings.HasPrefix(text, "# Keyspace\r\ndb0:keys=2,") {
		t.Errorf("INFO KEYSPACE: got %q", r.Raw)
	}
	c.do("HELLO", "3")
	if r := c.do("INFO"); !strings.HasPrefix(r.Raw, "=") || !strings.Contains(r.Raw, "txt:# Server\r\n") {
		t.Errorf("INFO in RESP3: got %q, want a verbatim txt string", clip([]byte(r.Raw)))
	}
}

// Redis's keyspace line counts the keys that have an expiry in expires=.
func TestInfoKeyspaceCountsExpires(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	c.expect(ok, "SET", "a", "1")
	c.expect(ok, "SET", "b", "1")
	c.expect(ok, "SET", "c", "1", "EX", "100")
	if l := infoField(t, c, "db0"); !strings.HasPrefix(l, "keys=3,expires=1,") {
		t.Errorf("INFO db0:%s, want keys=3,expires=1,... (two of the three keys have no expiry)", l)
	}
}

func TestConfigGet(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Settings: map[string]string{"cluster-enabled": "no"}},
		&sessiond.Options{MaxMemory: 1 << 30, Policy: sessiond.AllKeysLRU})
	c := ts.dial(t)
	runSteps(t, c, []step{
		s("*2\r\n$4\r\nsave\r\n$0\r\n\r\n", "CONFIG", "GET", "save"),
		s("*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n", "CONFIG", "GET", "appendonly"),
		s("*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$4\r\nsave\r\n$0\r\n\r\n", "config", "get", "save", "appendonly"),
		s("*0\r\n", "CONFIG", "GET", "nosuch"),
		s("*2\r\n$9\r\nmaxmemory\r\n$10\r\n1073741824\r\n", "CONFIG", "GET", "maxmemory"),
		s("*2\r\n$15\r\ncluster-enabled\r\n$2\r\nno\r\n", "CONFIG", "GET", "cluster-enabled"),
		s("*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n", "CONFIG", "GET", "databases"),
	})
	r := c.do("CONFIG", "GET", "maxmemory*")
	m := pairs(anyList(r.V))
	if m["maxmemory"] != "1073741824" || m["maxmemory-policy"] != "allkeys-lru" {
		t.Errorf("CONFIG GET maxmemory*: got %q", r.Raw)
	}
	c.do("HELLO", "3")
	r = c.do("CONFIG", "GET", "maxmemory*")
	if m, isMap := r.V.(Map); !isMap || m["maxmemory"] != "1073741824" || m["maxmemory-policy"] != "allkeys-lru" {
		t.Errorf("CONFIG GET maxmemory* in RESP3: got %q, want a map", r.Raw)
	}
	c.expect("%1\r\n$4\r\nsave\r\n$0\r\n\r\n", "CONFIG", "GET", "save")
	c.expect("%0\r\n", "CONFIG", "GET", "nosuch")
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestCommandCommand(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	n, isInt := c.do("COMMAND", "COUNT").V.(int64)
	if !isInt || n < 40 {
		t.Errorf("COMMAND COUNT = %v, want the number of commands served (40 or more)", n)
	}
	if l := anyList(c.do("COMMAND").V); int64(len(l)) != n {
		t.Errorf("COMMAND lists %d commands, COMMAND COUNT says %d", len(l), n)
	}
	// As in Redis 7: INFO with no names describes them all.
	if l := anyList(c.do("COMMAND", "INFO").V); int64(len(l)) != n {
		t.Errorf("COMMAND INFO lists %d commands, COMMAND COUNT says %d", len(l), n)
	}
	c.expect("-ERR wrong number of arguments for 'command|count' command\r\n", "COMMAND", "COUNT", "x")
	// Only the SESSION.* commands have docs (TestCommandDocs).
	c.expect("*0\r\n", "COMMAND", "DOCS", "get")

	r := c.do("COMMAND", "INFO", "get")
	l := anyList(r.V)
	if len(l) != 1 {
		t.Fatalf("COMMAND INFO get: got %q, want one entry", r.Raw)
	}
	e := anyList(l[0])
	if len(e) != 10 || e[0] != "get" || e[1] != int64(2) || e[3] != int64(1) || e[4] != int64(1) || e[5] != int64(1) {
		t.Errorf("COMMAND INFO get: got %q, want [get 2 flags 1 1 1 ...]", r.Raw)
	}
	e = anyList(anyList(c.do("COMMAND", "INFO", "SET").V)[0])
	if len(e) != 10 || e[0] != "set" || e[1] != int64(-3) {
		t.Errorf("COMMAND INFO SET: got %v, want [set -3 ...]", e)
	}
	e = anyList(anyList(c.do("COMMAND", "INFO", "mset").V)[0])
	if len(e) != 10 || e[3] != int64(1) || e[4] != int64(-1) || e[5] != int64(2) {
		t.Errorf("COMMAND INFO mset: got %v, want keys 1, -1, step 2", e)
	}
	c.do("HELLO", "3")
	c.expect("%0\r\n", "COMMAND", "DOCS", "get")
}

// Redis answers COMMAND INFO of an unknown command with a null bulk
// string in RESP2 (addReplyNull), not a null array.
func TestCommandInfoUnknownIsNullBulk(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	c.expect("*1\r\n$-1\r\n", "COMMAND", "INFO", "nosuchcmd")
	c.do("HELLO", "3")
	c.expect("*1\r\n_\r\n", "COMMAND", "INFO", "nosuchcmd")
}

// Redis 7 words errors for container commands this way; sessiond claims
// Redis 7.2.
func TestSubcommandErrorsAsRedis7(t *testing.T) {
	t.Parallel()
	runSteps(t, start(t).dial(t), []step{
		s("-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n", "CLIENT", "FOO"),
		s("-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n", "CONFIG", "FOO"),
		s("-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n", "COMMAND", "FOO"),
		s(arity("client|setname"), "CLIENT", "SETNAME"),
		s(arity("client|getname"), "CLIENT", "GETNAME", "x"),
		s(arity("config|get"), "CONFIG", "GET"),
	})
}

func TestTimeWaitEcho(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	before := time.Now().Unix()
	r := c.do("TIME")
	l := anyList(r.V)
	if len(l) != 2 {
		t.Fatalf("TIME: got %q, want two bulk strings", r.Raw)
	}
	sec, err1 := strconv.ParseInt(l[0].(string), 10, 64)
	usec, err2 := strconv.ParseInt(l[1].(string), 10, 64)
	if err1 != nil || err2 != nil || sec < before || sec > time.Now().Unix() || usec < 0 || usec >= 1e6 {
		t.Errorf("TIME: got %q, want now in seconds and microseconds", r.Raw)
	}
	runSteps(t, c, []step{
		s(num(0), "WAIT", "0", "0"),
		s(num(0), "WAIT", "1", "100"), // no replicas: at once
		s("-ERR timeout is negative\r\n", "WAIT", "0", "-1"),
		s(notInt, "WAIT", "abc", "0"),
	})
}

// Redis says "timeout is not an integer or out of range" for WAIT's
// timeout.
func TestWaitTimeoutNotIntegerText(t *testing.T) {
	t.Parallel()
	start(t).dial(t).expect("-ERR timeout is not an integer or out of range\r\n", "WAIT", "0", "abc")
}

func TestQuit(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	c.expect(ok, "SET", "q", "1")
	c.expect(ok, "QUIT")
	if rest := c.expectClosed(); len(rest) != 0 {
		t.Errorf("after QUIT's +OK: got %q, want nothing", rest)
	}
	// Commands pipelined after QUIT are not run.
	c = ts.dial(t)
	c.write(append(encode("QUIT"), encode("SET", "q", "2")...))
	c.expectRead(ok, "QUIT")
	c.expectClosed()
	ts.dial(t).expect(bulk("1"), "GET", "q")
}

func TestReset(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	c.do("HELLO", "3", "SETNAME", "n1")
	runSteps(t, c, []step{
		s(ok, "MULTI"),
		s("+QUEUED\r\n", "SET", "r", "1"),
		s("+RESET\r\n", "RESET"), // runs at once, even inside MULTI
		s("-ERR EXEC without MULTI\r\n", "EXEC"),
		s(null, "GET", "r"), // back to RESP2, and the SET was dropped
		s(null, "CLIENT", "GETNAME"),
		s(arity("reset"), "RESET", "x"),
	})
}
