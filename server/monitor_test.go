package server_test

import (
	"bufio"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/server"
)

// monitorOf opens a connection that runs MONITOR on ts.
func monitorOf(t *testing.T, ts *testServer) *client {
	t.Helper()
	m := ts.dial(t)
	m.expect(ok, "MONITOR")
	return m
}

// monitorLineRE is a MONITOR line's frame: +<unix s>.<µs> [0 <addr>] <args>.
var monitorLineRE = regexp.MustCompile(`^\+(\d{10}\.\d{6}) \[0 ([^\]]+)\] (.*)\r\n$`)

// nextLine reads a monitor's next line and returns its address and
// arguments.
func nextLine(t *testing.T, m *client) (addr, args string) {
	t.Helper()
	m.nc.SetReadDeadline(m.deadline())
	line, err := m.br.ReadString('\n')
	if err != nil {
		t.Fatalf("monitor: %v (read %q)", err, line)
	}
	f := monitorLineRE.FindStringSubmatch(line)
	if f == nil {
		t.Fatalf("monitor line %q: not +<time> [0 <addr>] <args>", line)
	}
	return f[2], f[3]
}

// TestMonitor: a monitor sees every command that runs, of every client and
// both protocols, quoted and redacted as Redis does, and not the commands
// Redis hides from monitors or refuses before running.
func TestMonitor(t *testing.T) {
	t.Parallel()
	for _, loops := range []int{0, 1} {
		ts := startMC(t, server.Config{EventLoops: loops}, nil)
		m := monitorOf(t, ts.testServer)
		c := ts.dial(t)
		addr := field(listLine(t, c, clientID(t, c)), "addr")
		_, args := nextLine(t, m)
		if args != `"CLIENT" "ID"` {
			t.Errorf("first line's arguments %s, want CLIENT ID", args)
		}
		steps := []struct {
			send []string
			want string // the arguments as shown; "" when the command is hidden
		}{
			{[]string{"SET", "k", "a \"quoted\"\nline\\ \x01\xff"}, `"SET" "k" "a \"quoted\"\nline\\ \x01\xff"`},
			{[]string{"get", "k"}, `"get" "k"`},
			{[]string{"AUTH", "secret"}, `"AUTH" "(redacted)"`},
			{[]string{"AUTH", "default", "secret"}, `"AUTH" "(redacted)" "(redacted)"`},
			{[]string{"HELLO", "2", "AUTH", "default", "secret", "SETNAME", "x"}, `"HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "x"`},
			{[]string{"CONFIG", "GET", "maxmemory"}, ""},
			{[]string{"CLIENT", "LIST"}, ""},
			{[]string{"CLIENT", "KILL", "ID", "999999"}, ""},
			{[]string{"NOSUCHCOMMAND"}, ""},
			{[]string{"GET"}, ""},
			{[]string{"MULTI"}, `"MULTI"`},
			{[]string{"SET", "a", "1"}, ""}, // shown when it runs, in EXEC
			{[]string{"EXEC"}, `"SET" "a" "1"`},
			{nil, `"EXEC"`},
			{[]string{"CLIENT", "SETNAME", "web"}, `"CLIENT" "SETNAME" "web"`},
		}
		for _, st := range steps {
			if st.send != nil {
				c.do(st.send...)
			}
			if st.want == "" {
				continue
			}
			gotAddr, got := nextLine(t, m)
			if got != st.want || gotAddr != addr {
				t.Errorf("after %q: line [0 %s] %s, want [0 %s] %s", st.send, gotAddr, got, addr, st.want)
			}
		}
		u := ts.dialUnix(t)
		u.expect("+PONG\r\n", "PING")
		if gotAddr, got := nextLine(t, m); gotAddr != "unix:"+ts.unix || got != `"PING"` {
			t.Errorf("PING over the Unix socket: [0 %s] %s, want [0 unix:%s] \"PING\"", gotAddr, got, ts.unix)
		}
		mc := ts.mc(t)
		mc.do("set s 7 60 2\r\nhi\r\n", "STORED\r\n")
		mc.do("get s x\r\n", "VALUE s 7 2\r\nhi\r\nEND\r\n")
		for _, want := range []string{`"set" "s" "7" "60" "hi"`, `"get" "s" "x"`} {
			if _, got := nextLine(t, m); got != want {
				t.Errorf("memcached: %s, want %s", got, want)
			}
		}
		// The monitor is listed with flags=O and of type normal, as in
		// Redis, and CLIENT KILL ends it.
		var mid string
		for _, l := range strings.Split(verbatimText(c.do("CLIENT", "LIST", "TYPE", "normal")), "\n") {
			if field(l, "flags") == "O" {
				mid = field(l, "id")
			}
		}
		if mid == "" {
			t.Fatal("CLIENT LIST TYPE normal: no line with flags=O for the monitor")
		}
		c.expect(num(0), "CLIENT", "KILL", "TYPE", "replica")
		c.expect(num(1), "CLIENT", "KILL", "ID", mid)
		if got := m.expectClosed(); len(got) != 0 {
			t.Errorf("monitor killed: read %q before the close, want nothing", got)
		}
		if line := listLine(t, c, mid); line != "" {
			t.Errorf("killed monitor still listed: %q", line)
		}
	}
}

// TestMonitorInMulti: MONITOR inside MULTI is refused, as Redis refuses it
// at EXEC.
func TestMonitorInMulti(t *testing.T) {
	t.Parallel()
	runSteps(t, start(t).dial(t), []step{
		s(ok, "MULTI"),
		s("-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n", "MONITOR"),
		s("*0\r\n", "EXEC"),
	})
}

// TestMonitorSlowIsDropped: a monitor that does not read is closed once
// its lines pass the bound, and the clients it watches are not held.
func TestMonitorSlowIsDropped(t *testing.T) {
	t.Parallel()
	ts := start(t)
	m := monitorOf(t, ts)
	m.nc.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4 << 10)
	c := ts.dial(t)
	value := strings.Repeat("v", 1<<20)
	// 48 MiB of lines: past the 32 MiB bound, and any socket buffer. Each
	// SET's reply comes within the client's I/O timeout: the monitor
	// holds no command.
	for range 48 {
		c.expect(ok, "SET", "big", value)
	}
	// What the monitor was sent, then the close.
	m.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(m.br, 1<<20)
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		n += len(line)
	}
	if n >= 48<<20 {
		t.Errorf("monitor read %d bytes: want it closed before it was sent all 48 MiB", n)
	}
	checkServes(t, c)
}

// TestMonitorShutdown: a monitor does not hold the server's shutdown: its
// stream ends and its connection closes.
func TestMonitorShutdown(t *testing.T) {
	t.Parallel()
	ts := start(t)
	m := monitorOf(t, ts)
	if err := ts.shutdown(t, 5*time.Second); err != nil {
		t.Fatalf("Shutdown with a monitor open: %v", err)
	}
	m.expectClosed()
}
