package server

import (
	"bufio"
	"bytes"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/resp"
)

// FuzzMonitorLine: a MONITOR line's arguments, read back as Redis reads an
// inline command (its sdssplitargs, internal/resp), are the command's
// arguments, whatever bytes they hold: the quoting loses nothing and lets
// nothing out of its quotes.
func FuzzMonitorLine(f *testing.F) {
	for _, s := range []string{"set\x00k\x00v", "a \"q\"\x00\n\r\t\a\b\\", "\x00\x01\xff\x7f", "", "get"} {
		f.Add([]byte(s))
	}
	c := &conn{raddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, laddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6379}}
	f.Fuzz(func(t *testing.T, in []byte) {
		args := bytes.Split(in, []byte{0})
		if equalFold(args[0], "auth") || equalFold(args[0], "hello") {
			args[0] = []byte("x") // redacted: not read back
		}
		line := monitorLine(nil, time.Unix(1, 2000), c, args)
		prefix := "+1.000002 [0 127.0.0.1:5000] "
		if !bytes.HasPrefix(line, []byte(prefix)) || !bytes.HasSuffix(line, []byte("\r\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("line %q: want %q, the quoted arguments, one CRLF", line, prefix)
		}
		rd := resp.NewReader(bufio.NewReader(bytes.NewReader(line[len(prefix):])), resp.Limits{MaxArgs: 1 << 20, MaxBulk: 1 << 20, MaxCommand: 1 << 22})
		got, err := rd.ReadCommand()
		if err != nil {
			t.Fatalf("line %q: read back: %v", line, err)
		}
		if !slices.EqualFunc(got, args, bytes.Equal) {
			t.Fatalf("line %q: read back %q, want %q", line, got, args)
		}
	})
}

// TestMonitorLineRedacts: AUTH's arguments and HELLO's AUTH user and
// password read (redacted), as in Redis.
func TestMonitorLineRedacts(t *testing.T) {
	c := &conn{raddr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}, laddr: &net.UnixAddr{Name: "/run/s.sock", Net: "unix"}}
	cases := []struct{ args, want string }{
		{"AUTH pw", `"AUTH" "(redacted)"`},
		{"auth user pw", `"auth" "(redacted)" "(redacted)"`},
		{"HELLO 3 AUTH u p SETNAME n", `"HELLO" "3" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n"`},
		{"HELLO 3 SETNAME auth", `"HELLO" "3" "SETNAME" "auth"`},
		{"HELLO 3 SETNAME auth u p", `"HELLO" "3" "SETNAME" "auth" "u" "p"`},
		{"HELLO 3 AUTH u", `"HELLO" "3" "AUTH" "u"`}, // refused: nothing to redact
		{"GET auth", `"GET" "auth"`},
	}
	for _, tc := range cases {
		var args [][]byte
		for _, a := range strings.Fields(tc.args) {
			args = append(args, []byte(a))
		}
		want := "+1.000000 [0 unix:/run/s.sock] " + tc.want + "\r\n"
		if got := string(monitorLine(nil, time.Unix(1, 0), c, args)); got != want {
			t.Errorf("%s: %q, want %q", tc.args, got, want)
		}
	}
}
