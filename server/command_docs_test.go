package server_test

import (
	"slices"
	"strconv"
	"testing"
)

// revokeDocs is COMMAND DOCS SESSION.REVOKE's reply in protocol proto,
// laid out as Redis 7.2's addReplyCommandDocs lays out a command's:
// summary, group, complexity, module, arguments; each argument's name,
// type, display_text, token, flags (a set of simple strings).
func revokeDocs(proto int) string {
	m := func(n int) string { // a map of n pairs: a flat array in RESP2
		if proto == 3 {
			return "%" + strconv.Itoa(n) + "\r\n"
		}
		return "*" + strconv.Itoa(2*n) + "\r\n"
	}
	set := "*"
	if proto == 3 {
		set = "~"
	}
	return m(1) + bulk("session.revoke") + m(5) +
		bulk("summary") + bulk("Deletes every live session of the user but the ones named after EXCEPT, and returns how many were deleted.") +
		bulk("group") + bulk("module") +
		bulk("complexity") + bulk("O(N) where N is the number of the user's sessions.") +
		bulk("module") + bulk("sessiond") +
		bulk("arguments") + "*2\r\n" +
		m(3) + bulk("name") + bulk("user") + bulk("type") + bulk("string") + bulk("display_text") + bulk("user") +
		m(5) + bulk("name") + bulk("key") + bulk("type") + bulk("key") + bulk("display_text") + bulk("key") +
		bulk("token") + bulk("EXCEPT") +
		bulk("flags") + set + "2\r\n+optional\r\n+multiple\r\n"
}

// TestCommandDocs: COMMAND DOCS answers the SESSION.* commands' docs in
// Redis 7.2's shape, in RESP2 and RESP3; a command without docs (every
// one Redis has) is left out, as Redis leaves out a name it does not know,
// and so COMMAND DOCS with no name answers the documented commands only.
func TestCommandDocs(t *testing.T) {
	t.Parallel()
	c := start(t).dial(t)
	for _, proto := range []int{2, 3} {
		c.do("HELLO", strconv.Itoa(proto))
		c.expect(revokeDocs(proto), "COMMAND", "DOCS", "SESSION.REVOKE")
		c.expect(revokeDocs(proto), "command", "docs", "Session.Revoke", "get", "nosuch")
	}
	c.do("HELLO", "2")
	c.expect("*0\r\n", "COMMAND", "DOCS", "get", "nosuch", "client|list")

	// In RESP2 the map is a flat array: its order shows.
	all := anyList(c.do("COMMAND", "DOCS").V)
	var names []string
	for i := 0; i+1 < len(all); i += 2 {
		names = append(names, all[i].(string))
	}
	want := []string{"session.count", "session.list", "session.merge", "session.revoke"}
	if len(all) != 2*len(want) || !slices.Equal(names, want) {
		t.Errorf("COMMAND DOCS names %q, want %q", names, want)
	}
	some := anyList(c.do("COMMAND", "DOCS", "session.list", "get", "SESSION.COUNT").V)
	if len(some) != 4 || some[0] != "session.list" || some[2] != "session.count" {
		t.Errorf("COMMAND DOCS session.list get SESSION.COUNT: got %v, want session.list's and session.count's docs in that order", some)
	}

	// The arguments as redis-cli reads them for its hints.
	for cmd, want := range map[string][]string{
		"session.list":  {"user string"},
		"session.count": {"user string"},
		"session.merge": {"key key", "patch string", "expiration oneof [optional] (EX seconds integer, PX milliseconds integer, EXAT unix-time-seconds unix-time, PXAT unix-time-milliseconds unix-time, KEEPTTL keepttl pure-token)"},
	} {
		docs := anyList(anyList(c.do("COMMAND", "DOCS", cmd).V)[1])
		var args []any
		for i := 0; i+1 < len(docs); i += 2 {
			if docs[i] == "arguments" {
				args = anyList(docs[i+1])
			}
		}
		var got []string
		for _, a := range args {
			got = append(got, argText(a))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s's arguments: got\n%q\nwant\n%q", cmd, got, want)
		}
	}
}

// argText writes one argument of COMMAND DOCS (a RESP2 field/value array)
// as "[TOKEN ]name type [flags] (its arguments)".
func argText(a any) string {
	f := map[string]any{}
	l := anyList(a)
	for i := 0; i+1 < len(l); i += 2 {
		f[l[i].(string)] = l[i+1]
	}
	s := ""
	if tok, ok := f["token"].(string); ok {
		s = tok + " "
	}
	s += f["name"].(string) + " " + f["type"].(string)
	if flags := anyList(f["flags"]); len(flags) > 0 {
		s += " ["
		for i, fl := range flags {
			if i > 0 {
				s += ","
			}
			s += string(fl.(Simple))
		}
		s += "]"
	}
	if sub := anyList(f["arguments"]); len(sub) > 0 {
		s += " ("
		for i, x := range sub {
			if i > 0 {
				s += ", "
			}
			s += argText(x)
		}
		s += ")"
	}
	return s
}
