package server

import (
	"strings"
	"testing"
)

// minArgs is the fewest words args take on a command line, by their docs.
func minArgs(args []argDoc) int {
	n := 0
	for _, a := range args {
		if a.flags&optional != 0 {
			continue
		}
		switch a.typ {
		case argToken:
			n++ // the token alone
			continue
		case argOneOf:
			least := -1
			for _, choice := range a.args {
				if m := minArgs([]argDoc{choice}); least < 0 || m < least {
					least = m
				}
			}
			n += least
		case argBlock:
			n += minArgs(a.args)
		default:
			n++
		}
		if a.token != "" {
			n++
		}
	}
	return n
}

// unbounded reports whether args take any number of words: an optional
// or repeated argument at any depth.
func unbounded(args []argDoc) bool {
	for _, a := range args {
		if a.flags&(optional|multiple) != 0 || unbounded(a.args) {
			return true
		}
	}
	return false
}

// TestCommandDocsFitTheTable: every documented command is served, every
// SESSION.* command is documented, and each one's arguments, as its docs
// describe them, take the words its arity says: the least number for
// "-n", exactly n for "n".
func TestCommandDocsFitTheTable(t *testing.T) {
	table, _ := commandTable()
	for name := range table {
		if strings.HasPrefix(name, "session.") && commandDocs[name] == nil {
			t.Errorf("%s has no COMMAND DOCS entry", name)
		}
	}
	for name, d := range commandDocs {
		cmd := table[name]
		if cmd == nil {
			t.Errorf("COMMAND DOCS documents %s, which is not in the command table", name)
			continue
		}
		// redis-cli prints the summary and the group of every entry
		// with printf's %s: neither may be missing.
		if d.summary == "" || d.group == "" {
			t.Errorf("%s: summary %q, group %q: want both", name, d.summary, d.group)
		}
		if (d.group == "module") != (d.module != "") {
			t.Errorf("%s: group %q, module %q: a module names its module", name, d.group, d.module)
		}
		words := 1 + minArgs(d.args)
		switch {
		case unbounded(d.args) && cmd.arity != -words:
			t.Errorf("%s: the docs take at least %d words, arity is %d", name, words, cmd.arity)
		case !unbounded(d.args) && cmd.arity != words:
			t.Errorf("%s: the docs take %d words, arity is %d", name, words, cmd.arity)
		}
		checkArgDocs(t, name, d.args)
	}
}

// checkArgDocs checks that arguments are well formed, as Redis's
// command JSON schema wants them.
func checkArgDocs(t *testing.T, cmd string, args []argDoc) {
	t.Helper()
	for _, a := range args {
		nested := a.typ == argOneOf || a.typ == argBlock
		switch {
		case a.name == "":
			t.Errorf("%s: an argument without a name", cmd)
		case nested != (len(a.args) > 0):
			t.Errorf("%s %s: a %s with %d arguments", cmd, a.name, a.typ, len(a.args))
		case a.typ == argToken && a.token == "":
			t.Errorf("%s %s: a pure-token without a token", cmd, a.name)
		case a.flags&multipleToken != 0 && (a.flags&multiple == 0 || a.token == ""):
			t.Errorf("%s %s: multiple_token needs multiple and a token", cmd, a.name)
		}
		checkArgDocs(t, cmd, a.args)
	}
}
