package server_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
)

func TestPipelineRepliesInOrder(t *testing.T) {
	t.Parallel()
	ts := start(t)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			c := ts.dial(t)
			if network == "unix" {
				c = ts.dialUnix(t)
			}
			var batch bytes.Buffer
			for i := range 100 {
				switch i % 3 {
				case 0:
					batch.Write(encode("SET", fmt.Sprintf("pipe:%s:%d", network, i), strconv.Itoa(i)))
				case 1:
					batch.Write(encode("GET", fmt.Sprintf("pipe:%s:%d", network, i-1)))
				default:
					batch.Write(encode("ECHO", strconv.Itoa(i)))
				}
			}
			c.write(batch.Bytes())
			for i := range 100 {
				var want string
				switch i % 3 {
				case 0:
					want = "+OK\r\n"
				case 1:
					v := strconv.Itoa(i - 1)
					want = "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"
				default:
					v := strconv.Itoa(i)
					want = "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"
				}
				if got := c.read().Raw; got != want {
					t.Fatalf("reply %d: got %q, want %q", i, got, want)
				}
			}
		})
	}
}

// A command split across many writes, one byte at a time, is parsed once
// it is whole.
func TestCommandInPieces(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	for _, b := range encode("SET", "pieces", "a value") {
		c.write([]byte{b})
	}
	c.expectRead("+OK\r\n", "SET sent a byte at a time")
	c.expect("$7\r\na value\r\n", "GET", "pieces")
}

func TestInlineCommands(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	steps := []struct{ in, want string }{
		{"PING\r\n", "+PONG\r\n"},
		{"ping\n", "+PONG\r\n"},
		{"SET inl \"hello world\"\r\n", "+OK\r\n"},
		{"GET inl\r\n", "$11\r\nhello world\r\n"},
		{"ECHO 'x y'\r\n", "$3\r\nx y\r\n"},
		{"ECHO \"a\\x41\\n\"\r\n", "$3\r\naA\n\r\n"},
		{"   \r\n\r\nPING   x\r\n", "$1\r\nx\r\n"}, // blank lines are skipped
		{"*0\r\n*-1\r\nPING\r\n", "+PONG\r\n"},     // so are empty arrays
		{"foo a b\r\n", "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"},
	}
	for _, s := range steps {
		c.writeString(s.in)
		c.expectRead(s.want, fmt.Sprintf("inline %q", s.in))
	}
	c.writeString("SET inl \"unbalanced\r\n")
	c.expectRead("-ERR Protocol error: unbalanced quotes in request\r\n", "unbalanced quotes")
	c.expectClosed()
}

func TestRESP2IsTheDefault(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	c.expect("$-1\r\n", "GET", "nosuch")
	c.expect("*2\r\n$-1\r\n$-1\r\n", "MGET", "nosuch", "nosuch2")
	c.expect("*2\r\n$4\r\nsave\r\n$0\r\n\r\n", "CONFIG", "GET", "save")
	// HELLO with no version answers in the current protocol: a flat array.
	r := c.do("HELLO")
	l, ok := r.V.([]any)
	if !ok || len(l) != 14 {
		t.Fatalf("HELLO in RESP2: got %q, want an array of 14", r.Raw)
	}
	checkHello(t, r.Raw, pairs(l), 2)
	r = c.do("HELLO", "2")
	if l, ok := r.V.([]any); !ok || len(l) != 14 {
		t.Fatalf("HELLO 2: got %q, want an array of 14", r.Raw)
	}
}

func pairs(l []any) Map {
	m := Map{}
	for i := 0; i+1 < len(l); i += 2 {
		m[fmt.Sprint(l[i])] = l[i+1]
	}
	return m
}

// checkHello checks HELLO's fields, as node-redis and go-redis read them.
func checkHello(t *testing.T, raw string, m Map, proto int64) {
	t.Helper()
	if m["server"] != "redis" || m["proto"] != proto || m["mode"] != "standalone" || m["role"] != "master" {
		t.Errorf("HELLO: got %q, want server redis, proto %d, mode standalone, role master", raw, proto)
	}
	if v, _ := m["version"].(string); v == "" {
		t.Errorf("HELLO: no version in %q", raw)
	}
	if _, ok := m["id"].(int64); !ok {
		t.Errorf("HELLO: no integer id in %q", raw)
	}
	if mods, ok := m["modules"].([]any); !ok || len(mods) != 0 {
		t.Errorf("HELLO: modules should be an empty array in %q", raw)
	}
}

func TestRESP3AfterHello3(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	r := c.do("HELLO", "3")
	m, ok := r.V.(Map)
	if !ok || len(m) != 7 || r.Raw[0] != '%' {
		t.Fatalf("HELLO 3: got %q, want a RESP3 map of 7", r.Raw)
	}
	checkHello(t, r.Raw, m, 3)
	if id := c.do("CLIENT", "ID").V; id != m["id"] {
		t.Errorf("HELLO's id %v differs from CLIENT ID %v", m["id"], id)
	}
	c.expect("_\r\n", "GET", "nosuch")
	c.expect("+OK\r\n", "SET", "r3", "v")
	c.expect("*2\r\n_\r\n$1\r\nv\r\n", "MGET", "nosuch", "r3")
	c.expect("%1\r\n$4\r\nsave\r\n$0\r\n\r\n", "CONFIG", "GET", "save")
	r = c.do("CONFIG", "GET", "maxmemory*")
	if m, ok := r.V.(Map); !ok || r.Raw[0] != '%' || m["maxmemory"] != "0" || m["maxmemory-policy"] != "noeviction" {
		t.Errorf("CONFIG GET maxmemory* in RESP3: got %q, want a map with maxmemory 0 and maxmemory-policy noeviction", r.Raw)
	}
	c.expect("_\r\n", "GETDEL", "nosuch")
	c.expect("_\r\n", "CLIENT", "GETNAME")
	// Back to RESP2.
	if r := c.do("HELLO", "2"); r.Raw[0] != '*' {
		t.Errorf("HELLO 2 after HELLO 3: got %q, want a RESP2 array", r.Raw)
	}
	c.expect("$-1\r\n", "GET", "nosuch")
}

func TestHelloErrors(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	c.expect("-NOPROTO unsupported protocol version\r\n", "HELLO", "4")
	c.expect("-NOPROTO unsupported protocol version\r\n", "HELLO", "1")
	c.expect("-ERR Protocol version is not an integer or out of range\r\n", "HELLO", "abc")
	c.expect("-ERR Syntax error in HELLO option 'FOO'\r\n", "HELLO", "3", "FOO")
	c.expect("-ERR Syntax error in HELLO option 'AUTH'\r\n", "HELLO", "3", "AUTH")
	c.expect("-ERR Client names cannot contain spaces, newlines or special characters.\r\n", "HELLO", "3", "SETNAME", "a b")
	// None of the failed HELLOs changed the protocol.
	c.expect("$-1\r\n", "GET", "nosuch")
	c.expect("$-1\r\n", "CLIENT", "GETNAME")
}

func TestHelloSetName(t *testing.T) {
	t.Parallel()
	ts := start(t)
	c := ts.dial(t)
	if r := c.do("HELLO", "3", "SETNAME", "myapp"); r.Raw[0] != '%' {
		t.Fatalf("HELLO 3 SETNAME: got %q", r.Raw)
	}
	c.expect("$5\r\nmyapp\r\n", "CLIENT", "GETNAME")
	if r := c.do("HELLO", "2", "SETNAME", "other"); r.Raw[0] != '*' {
		t.Fatalf("HELLO 2 SETNAME: got %q", r.Raw)
	}
	c.expect("$5\r\nother\r\n", "CLIENT", "GETNAME")
}
