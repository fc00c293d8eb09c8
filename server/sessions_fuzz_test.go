package server_test

import (
	"encoding/json"
	"testing"

	"github.com/sessiond/sessiond/internal/testkit"
)

// FuzzSessionArgs sends SESSION.LIST, COUNT or REVOKE (the input's first
// byte picks) with any arguments (the rest, split at NUL bytes) to an
// indexed server, after a session of the user the first argument names.
// Each must get one well-formed reply, the connection must go on serving,
// SESSION.COUNT must agree with SESSION.LIST, and a plain SESSION.REVOKE
// must leave the user no session.
func FuzzSessionArgs(f *testing.F) {
	for _, s := range []string{
		"\x00alice", "\x01alice", "\x02alice", "\x02alice\x00EXCEPT\x00sess:fuzz",
		"\x02alice\x00except", "\x02alice\x00EXCEPT\x00a\x00b\x00EXCEPT", "\x02\x00EXCEPT\x00", "\x00", "\x01a\x00b",
		"\x02\xff\xfe\x00EXCEPT\x00sess:fuzz",
	} {
		f.Add([]byte(s))
	}
	c := startIndexed(f, new(testkit.FakeClock)).dial(f)
	cmds := []string{"SESSION.LIST", "SESSION.COUNT", "SESSION.REVOKE"}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		args := fuzzCommand(cmds, in)
		c.t = t
		user := args[1]
		v, _ := json.Marshal(map[string]any{"passport": map[string]string{"user": user}})
		c.expect(ok, "SET", "sess:fuzz", string(v))
		// The id the index files it under: JSON cannot carry bytes that
		// are not UTF-8, which Marshal replaced; then the command names
		// another user.
		var back struct{ Passport struct{ User string } }
		if err := json.Unmarshal(v, &back); err != nil {
			t.Fatal(err)
		}
		user = back.Passport.User

		r, err := c.try(args...)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		list, isList := c.do("SESSION.LIST", user).V.([]any)
		count, isInt := c.do("SESSION.COUNT", user).V.(int64)
		if !isList || !isInt || int64(len(list)) != count {
			t.Fatalf("after %q: SESSION.LIST has %d, SESSION.COUNT says %v", args, len(list), count)
		}
		if args[0] == "SESSION.REVOKE" && len(args) == 2 && user == args[1] && (r.V != int64(1) || count != 0) {
			t.Errorf("%q answered %q and left %d sessions, want 1 and none", args, r.Raw, count)
		}
		c.expect("+PONG\r\n", "PING")
	})
}
