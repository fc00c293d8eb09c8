package goclients

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/compat/harness"
)

// How COMMAND DOCS is checked against Redis: sessiond documents only its
// SESSION.* commands, which Redis does not have, so no reply can be
// compared with Redis's for the same command. The shape is compared
// instead: every field sessiond writes must be one Redis writes, with the
// same RESP type and in the order Redis's addReplyCommandDocs and
// addReplyCommandArgList write them (Redis 7.2's src/server.c), which the
// test first checks Redis's own reply against, for all its commands.

// docFieldOrder and argFieldOrder are the fields of a command's and of an
// argument's docs in the order Redis 7.2 writes them.
var (
	docFieldOrder = []string{"summary", "since", "group", "complexity", "module", "doc_flags",
		"deprecated_since", "replaced_by", "history", "arguments", "subcommands"}
	argFieldOrder = []string{"name", "type", "display_text", "key_spec_index", "token", "summary",
		"since", "deprecated_since", "flags", "arguments"}
)

// newerFields are the fields that the redis-server the tests run (7.0)
// never writes, and their RESP types in Redis 7.2, whose commands sessiond
// follows: display_text came with 7.2, and module is a module command's
// (none is loaded).
var newerFields = map[string]byte{"display_text": '$', "module": '$'}

// respNode is one RESP reply, as read: its type byte, its text, and its
// elements (a map's keys and values in turn).
type respNode struct {
	typ   byte
	text  string
	elems []respNode
}

// readRESP reads one reply of any RESP2 or RESP3 type COMMAND DOCS uses.
func readRESP(br *bufio.Reader) (respNode, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return respNode{}, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return respNode{}, fmt.Errorf("bad line %q", line)
	}
	n := respNode{typ: line[0], text: line[1 : len(line)-2]}
	switch n.typ {
	case '+', '-', ':', '_', '#', ',':
		return n, nil
	case '$':
		size, err := strconv.Atoi(n.text)
		if err != nil || size < 0 {
			return n, err
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return n, err
		}
		n.text = string(b[:size])
		return n, nil
	case '*', '~', '%':
		count, err := strconv.Atoi(n.text)
		if err != nil {
			return n, err
		}
		if n.typ == '%' {
			count *= 2
		}
		for range count {
			e, err := readRESP(br)
			if err != nil {
				return n, err
			}
			n.elems = append(n.elems, e)
		}
		return n, nil
	}
	return n, fmt.Errorf("reply type %q not read", n.typ)
}

// rawDo sends a command on a new connection in protocol proto and reads
// its reply.
func rawDo(t *testing.T, addr string, proto int, args ...string) respNode {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)
	send := func(args ...string) respNode {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := io.WriteString(nc, b.String()); err != nil {
			t.Fatal(err)
		}
		r, err := readRESP(br)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		return r
	}
	send("HELLO", strconv.Itoa(proto))
	return send(args...)
}

// docShape gathers what the docs replies hold: each field's RESP types,
// the values of arguments' types and flags, and the flags' RESP types.
type docShape struct {
	cmdTypes, argTypes map[string]map[byte]bool
	argTypeNames       map[string]bool
	flagNames          map[string]bool
	flagTypes          map[byte]bool
}

func newDocShape() *docShape {
	return &docShape{map[string]map[byte]bool{}, map[string]map[byte]bool{}, map[string]bool{}, map[string]bool{}, map[byte]bool{}}
}

// walkDocs checks a COMMAND DOCS reply's shape, the fields of each map in
// the order given, and adds what it holds to sh. who names the server.
func (sh *docShape) walkDocs(t *testing.T, who string, top respNode, mapType byte) {
	t.Helper()
	if top.typ != mapType || len(top.elems)%2 != 0 {
		t.Fatalf("%s: COMMAND DOCS is a %q of %d, want a map (%q)", who, top.typ, len(top.elems), mapType)
	}
	for i := 0; i < len(top.elems); i += 2 {
		sh.walkCommand(t, who+" "+top.elems[i].text, top.elems[i+1], mapType)
	}
}

func (sh *docShape) walkCommand(t *testing.T, who string, doc respNode, mapType byte) {
	t.Helper()
	fields := sh.walkMap(t, who, doc, mapType, docFieldOrder, sh.cmdTypes)
	if !slices.Contains(fields, "group") {
		t.Errorf("%s: no group (Redis always writes one)", who)
	}
	for i := 0; i+1 < len(doc.elems); i += 2 {
		switch v := doc.elems[i+1]; doc.elems[i].text {
		case "arguments":
			sh.walkArgs(t, who, v, mapType)
		case "subcommands":
			for j := 0; j+1 < len(v.elems); j += 2 {
				sh.walkCommand(t, who+" "+v.elems[j].text, v.elems[j+1], mapType)
			}
		}
	}
}

func (sh *docShape) walkArgs(t *testing.T, who string, args respNode, mapType byte) {
	t.Helper()
	if args.typ != '*' {
		t.Errorf("%s: arguments is a %q, want an array", who, args.typ)
	}
	for _, a := range args.elems {
		sh.walkMap(t, who+" argument", a, mapType, argFieldOrder, sh.argTypes)
		for i := 0; i+1 < len(a.elems); i += 2 {
			switch v := a.elems[i+1]; a.elems[i].text {
			case "type":
				sh.argTypeNames[v.text] = true
			case "flags":
				for _, f := range v.elems {
					sh.flagNames[f.text] = true
					sh.flagTypes[f.typ] = true
				}
			case "arguments":
				sh.walkArgs(t, who, v, mapType)
			}
		}
	}
}

// walkMap checks that m is a map whose fields come in order, records each
// field's RESP type in types, and returns the fields.
func (sh *docShape) walkMap(t *testing.T, who string, m respNode, mapType byte, order []string, types map[string]map[byte]bool) []string {
	t.Helper()
	if m.typ != mapType || len(m.elems)%2 != 0 {
		t.Errorf("%s: a %q of %d, want a map (%q)", who, m.typ, len(m.elems), mapType)
		return nil
	}
	var fields []string
	last := -1
	for i := 0; i < len(m.elems); i += 2 {
		f := m.elems[i].text
		at := slices.Index(order, f)
		if at <= last {
			t.Errorf("%s: field %q out of Redis's order %v (fields %v)", who, f, order, fields)
		}
		last = max(last, at)
		fields = append(fields, f)
		if types[f] == nil {
			types[f] = map[byte]bool{}
		}
		types[f][m.elems[i+1].typ] = true
	}
	return fields
}

// TestCommandDocsShapedLikeRedis: sessiond's COMMAND DOCS, in RESP2 and
// RESP3, holds only fields Redis writes, in Redis's order and of Redis's
// RESP types, argument types and flags Redis uses, and lists the SESSION.*
// commands.
func TestCommandDocsShapedLikeRedis(t *testing.T) {
	t.Parallel()
	if harness.Reference() != "" {
		t.Skip("the SESSION.* commands are sessiond's")
	}
	srv := startTarget(t, "")
	red := harness.StartRedis(t)
	for _, proto := range []int{2, 3} {
		t.Run("RESP"+strconv.Itoa(proto), func(t *testing.T) {
			mapType := byte('*')
			if proto == 3 {
				mapType = '%'
			}
			ref, ours := newDocShape(), newDocShape()
			ref.walkDocs(t, "redis-server", rawDo(t, red.Addr, proto, "COMMAND", "DOCS"), mapType)
			docs := rawDo(t, srv.Addr, proto, "COMMAND", "DOCS")
			ours.walkDocs(t, "sessiond", docs, mapType)

			var names []string
			for i := 0; i < len(docs.elems); i += 2 {
				names = append(names, docs.elems[i].text)
			}
			if want := []string{"session.count", "session.list", "session.merge", "session.revoke"}; !slices.Equal(names, want) {
				t.Errorf("sessiond documents %v, want %v", names, want)
			}
			for _, kind := range []struct {
				name      string
				ref, ours map[string]map[byte]bool
			}{{"command", ref.cmdTypes, ours.cmdTypes}, {"argument", ref.argTypes, ours.argTypes}} {
				for f, types := range kind.ours {
					want := kind.ref[f]
					if typ, newer := newerFields[f]; newer && want == nil {
						want = map[byte]bool{typ: true}
					}
					for typ := range types {
						if !want[typ] {
							t.Errorf("%s field %q: sessiond writes a %q, Redis %v", kind.name, f, typ, want)
						}
					}
				}
			}
			for name := range ours.argTypeNames {
				if !ref.argTypeNames[name] {
					t.Errorf("argument type %q: Redis uses none such (%v)", name, ref.argTypeNames)
				}
			}
			for name := range ours.flagNames {
				if !ref.flagNames[name] {
					t.Errorf("argument flag %q: Redis uses none such (%v)", name, ref.flagNames)
				}
			}
			if !ref.flagTypes['+'] || !ours.flagTypes['+'] || len(ref.flagTypes) != 1 || len(ours.flagTypes) != 1 {
				t.Errorf("argument flags: Redis's are %v, sessiond's %v, want simple strings", ref.flagTypes, ours.flagTypes)
			}
		})
	}
}

// ansi matches the terminal escapes redis-cli's help prints.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestRedisCLIHelp: redis-cli reads COMMAND DOCS for its help: "help
// SESSION.REVOKE" shows the command's arguments, summary and group as it
// shows DEL's from redis-server, "help @module" lists the family, and
// COMMAND DOCS SESSION.LIST prints field by field.
func TestRedisCLIHelp(t *testing.T) {
	t.Parallel()
	if harness.Reference() != "" {
		t.Skip("the SESSION.* commands are sessiond's")
	}
	harness.Need(t, "redis-cli")
	srv := startTarget(t, "")
	tcp := tcpArgs(t, srv)
	help := func(conn []string, topic string) []string {
		o := cli(t, conn, "--no-raw", "help", topic)
		if o.err != nil {
			t.Fatalf("help %s:\n%v", topic, o)
		}
		var out []string
		for _, l := range strings.Split(ansi.ReplaceAllString(o.stdout, ""), "\n") {
			out = append(out, strings.TrimRight(l, "\r"))
		}
		return out
	}

	// Redis's, for the shape: a blank line, the command and its
	// arguments, the summary, since, group.
	red := harness.StartRedis(t)
	host, port := hostPort(t, red.Addr)
	del := help([]string{"-h", host, "-p", port}, "DEL")
	if len(del) < 5 || del[1] != "  DEL key [key ...]" || !strings.HasPrefix(del[2], "  summary: ") || del[4] != "  group: generic" {
		t.Fatalf("redis-server's help DEL: %q", del)
	}
	want := []string{"", "  SESSION.REVOKE user [EXCEPT key [key ...]]",
		"  summary: Deletes every live session of the user but the ones named after EXCEPT, and returns how many were deleted.",
		"  group: module", "", ""}
	if got := help(tcp, "SESSION.REVOKE"); !slices.Equal(got, want) {
		t.Errorf("help SESSION.REVOKE:\n%q\nwant\n%q", got, want)
	}
	if got := help(tcp, "session.merge"); len(got) < 2 || got[1] != "  SESSION.MERGE key patch [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]" {
		t.Errorf("help session.merge: %q", got)
	}
	var listed []string
	for _, l := range help(tcp, "@module") {
		if name, _, found := strings.Cut(strings.TrimPrefix(l, "  "), " "); found && strings.HasPrefix(name, "SESSION.") {
			listed = append(listed, name)
		}
	}
	if want := []string{"SESSION.COUNT", "SESSION.LIST", "SESSION.MERGE", "SESSION.REVOKE"}; !slices.Equal(listed, want) {
		t.Errorf("help @module lists %v, want %v", listed, want)
	}

	// Not a terminal: one line per string, as redis-cli prints any
	// nested reply.
	wantOutput(t, cli(t, tcp, "COMMAND", "DOCS", "SESSION.LIST"), strings.Join([]string{
		"session.list",
		"summary", "Returns the user's live sessions, the most recently written first: each one's key, ttl (milliseconds left, -1 for none), written (unix milliseconds) and size (bytes).",
		"group", "module",
		"complexity", "O(N) where N is the number of the user's sessions.",
		"module", "sessiond",
		"arguments", "name", "user", "type", "string", "display_text", "user",
	}, "\n")+"\n")
}
