package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// `sessiond sessions list|revoke --user ID`: a user's sessions on a running
// server, through SESSION.LIST and SESSION.REVOKE. The server is found with
// its own settings (clientSettings), read from the same flags, variables and
// file as the server reads them.

// clientSettings are the settings the sessions subcommand takes as flags,
// with their usage as the subcommand reads them: where the server is and
// its password. The environment and the file are read whole, as the
// server reads them, so that a bad one fails here too.
var clientSettings = map[string]string{
	"config":      "read the server's settings from the TOML `file`",
	"addr":        "reach the server on TCP `host:port`, unless --unix is set",
	"unix":        "reach the server on the Unix socket at `path`",
	"requirepass": "the server's `password`, sent with AUTH",
}

// sessionsName prefixes the subcommand's error lines.
const sessionsName = "sessiond sessions"

// A sessionsCmd is the subcommand's arguments.
type sessionsCmd struct {
	action string   // list or revoke
	user   string   // --user
	except []string // --except, revoke's
	config *Config
}

// runSessions runs `sessiond sessions` with args, the arguments after
// "sessions", and returns the exit status: exitConfig for a usage or
// config error, exitFailed when the server cannot be reached or answers an
// error.
func runSessions(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd, err := parseSessions(args, lookupEnv)
	var usage *usageError
	switch {
	case errors.As(err, &usage) && usage.help:
		printSessionsUsage(stdout) // asked for, as sessiond --help
		return exitOK
	case errors.As(err, &usage) && usage.msg == "":
		printSessionsUsage(stderr)
		return exitConfig
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %s\n", sessionsName, usage.msg)
		return exitConfig
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", sessionsName, err)
		return exitConfig
	}
	out := bufio.NewWriter(stdout)
	if err := cmd.run(ctx, out); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted") // the connection's error says only that it closed
		}
		fmt.Fprintf(stderr, "%s: %v\n", sessionsName, err)
		return exitFailed
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "%s: writing the output: %v\n", sessionsName, err)
		return exitFailed
	}
	return exitOK
}

// A usageError is a command line the subcommand does not take: its line
// is printed, or for none (no action, --help) the usage.
type usageError struct {
	msg  string
	help bool // --help: the usage, on stdout, and success
}

// seeHelp ends a usage error's line.
const seeHelp = "see sessiond sessions --help"

func (e *usageError) Error() string { return e.msg }

// parseSessions reads the subcommand's arguments and the server's
// settings.
func parseSessions(args []string, lookupEnv func(string) (string, bool)) (*sessionsCmd, error) {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		return nil, &usageError{help: true}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return nil, &usageError{} // the action comes first
	}
	cmd := &sessionsCmd{action: args[0]}
	if cmd.action != "list" && cmd.action != "revoke" {
		return nil, &usageError{msg: fmt.Sprintf("unknown action %q (want list or revoke); %s", cmd.action, seeHelp)}
	}
	fs := sessionsFlagSet(cmd)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, &usageError{help: true}
		}
		msg := flagError(err).Error()
		return nil, &usageError{msg: strings.Replace(msg, "see sessiond --help", seeHelp, 1)}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{msg: fmt.Sprintf("unexpected argument %q (%s takes only flags); %s", fs.Arg(0), cmd.action, seeHelp)}
	}
	if cmd.user == "" {
		return nil, &usageError{msg: cmd.action + " needs --user ID; " + seeHelp}
	}
	if len(cmd.except) > 0 && cmd.action != "revoke" {
		return nil, &usageError{msg: "--except is revoke's, not list's; " + seeHelp}
	}
	flags := make(map[string]string)
	fs.Visit(func(f *flag.Flag) {
		if lookup(f.Name) != nil {
			flags[f.Name] = f.Value.String()
		}
	})
	c, err := configure(flags, lookupEnv)
	if err != nil {
		return nil, err
	}
	cmd.config = c
	return cmd, nil
}

// sessionsFlagSet returns the subcommand's flags, which fill cmd: --user,
// --except, and the clientSettings.
func sessionsFlagSet(cmd *sessionsCmd) *flag.FlagSet {
	fs := flag.NewFlagSet(sessionsName, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd == nil {
		cmd = new(sessionsCmd) // for the usage
	}
	fs.StringVar(&cmd.user, "user", "", "the `id` of the user whose sessions to list or revoke")
	fs.Func("except", "revoke: keep the session at `key` (repeat for more)", func(s string) error {
		cmd.except = append(cmd.except, s)
		return nil
	})
	addSettingFlags(fs, func(name string) bool { return clientSettings[name] != "" })
	for name, usage := range clientSettings {
		fs.Lookup(name).Usage = usage + " (env " + envName(name) + ")"
	}
	return fs
}

// printSessionsUsage writes the subcommand's usage.
func printSessionsUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: sessiond sessions list --user ID [flags]
       sessiond sessions revoke --user ID [--except KEY]... [flags]

Lists or revokes the sessions of a user on a running sessiond, over the
Redis protocol (SESSION.LIST, SESSION.REVOKE). The server is found with its
own settings, from these flags, its SESSIOND_* variables and its --config
file: --unix if set, else --addr, and --requirepass. The subcommand does not
speak TLS: a server that serves only --tls-addr needs --unix or --addr too.

list prints one line per session, the most recently written first:
KEY, ttl=SECONDS (or none), written=TIME (RFC 3339, UTC) and size=BYTES,
separated by tabs. revoke deletes every session of the user but the
--except ones, and prints how many it deleted.

Exit status: 0 done, 1 the server could not be reached or answered an
error, 2 a usage or config error.

Flags:
`)
	fs := sessionsFlagSet(nil)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// run connects, authenticates if there is a password, and runs the action,
// writing its output to out.
func (cmd *sessionsCmd) run(ctx context.Context, out io.Writer) error {
	c := cmd.config
	network, addr := "unix", c.Unix
	if addr == "" {
		network, addr = "tcp", c.Addr
	}
	if addr == "" {
		return errors.New("neither --unix nor --addr is set, so there is no server to reach (the subcommand does not speak TLS)")
	}
	cl, err := dial(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %s", addr, cause(err))
	}
	defer cl.Close()
	if c.RequirePass != "" {
		if _, err := cl.call(addr, "AUTH", c.RequirePass); err != nil {
			return err
		}
	}
	if cmd.action == "revoke" {
		args := []string{"SESSION.REVOKE", cmd.user}
		if len(cmd.except) > 0 {
			args = append(append(args, "EXCEPT"), cmd.except...)
		}
		r, err := cl.call(addr, args...)
		if err != nil {
			return err
		}
		if r.kind != ':' {
			return fmt.Errorf("SESSION.REVOKE at %s: want an integer, got a reply of type %q", addr, r.kind)
		}
		fmt.Fprintln(out, r.n)
		return nil
	}
	r, err := cl.call(addr, "SESSION.LIST", cmd.user)
	if err != nil {
		return err
	}
	if r.kind != '*' {
		return fmt.Errorf("SESSION.LIST at %s: want an array, got a reply of type %q", addr, r.kind)
	}
	for _, e := range r.elems {
		s, err := parseListed(e)
		if err != nil {
			return fmt.Errorf("SESSION.LIST at %s: %w", addr, err)
		}
		fmt.Fprintln(out, s.line())
	}
	return nil
}

// call sends args and returns the reply, or an error that names the
// command and the server: for an error reply, the server's message.
func (cl *client) call(addr string, args ...string) (reply, error) {
	r, err := cl.do(args...)
	switch {
	case err != nil:
		return reply{}, fmt.Errorf("%s at %s: %s", args[0], addr, cause(err))
	case r.kind == '-' && strings.HasPrefix(r.text, "NOAUTH"):
		return reply{}, fmt.Errorf("%s at %s: %s (give the server's --requirepass, or SESSIOND_REQUIREPASS)", args[0], addr, r.text)
	case r.kind == '-':
		return reply{}, fmt.Errorf("%s at %s: %s", args[0], addr, r.text)
	}
	return r, nil
}

// A listedSession is one element of SESSION.LIST's reply.
type listedSession struct {
	key                string
	ttlMS, written, sz int64
}

// parseListed reads an element of SESSION.LIST's reply: a map, or in
// RESP2 a flat array of its fields and values.
func parseListed(e reply) (listedSession, error) {
	if e.kind != '*' || len(e.elems)%2 != 0 {
		return listedSession{}, errors.New("an element is not a map of fields")
	}
	var s listedSession
	seen := 0
	for i := 0; i < len(e.elems); i += 2 {
		name, v := e.elems[i].text, e.elems[i+1]
		switch {
		case name == "key" && (v.kind == '$' || v.kind == '+'):
			s.key = v.text
		case name == "ttl" && v.kind == ':':
			s.ttlMS = v.n
		case name == "written" && v.kind == ':':
			s.written = v.n
		case name == "size" && v.kind == ':':
			s.sz = v.n
		default:
			continue // a field this CLI does not know, from a newer server
		}
		seen++
	}
	if seen != 4 {
		return listedSession{}, errors.New("an element lacks key, ttl, written or size")
	}
	return s, nil
}

// line is the session as list prints it.
func (s listedSession) line() string {
	ttl := "none"
	if s.ttlMS >= 0 {
		ttl = strconv.FormatInt((s.ttlMS+500)/1000, 10) // rounded, as Redis's TTL
	}
	written := time.UnixMilli(s.written).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return fmt.Sprintf("%s\tttl=%s\twritten=%s\tsize=%d", printableKey(s.key), ttl, written, s.sz)
}

// printableKey returns key as it is, or quoted as a Go string if it holds
// a space, a control character or bytes that are not UTF-8, which would
// break the line into fields or lines.
func printableKey(key string) string {
	if !utf8.ValidString(key) || strings.IndexFunc(key, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 || strings.HasPrefix(key, `"`) {
		return strconv.Quote(key)
	}
	return key
}
