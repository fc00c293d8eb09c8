package server

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/internal/glob"
)

// INFO [section ...]
func cmdInfo(c *respConn, args [][]byte) {
	c.w.Verbatim("txt", c.s.info(args[1:]))
}

// infoSections are INFO's sections in Redis's order; INFO with no
// section, or "default", leaves out commandstats, as Redis does.
var infoSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "commandstats", "errorstats", "cluster", "keyspace"}

// info renders INFO's text for the sections asked for, as Redis lays it
// out: "# Section" headers, "field:value" lines, CRLF line ends.
func (s *Server) info(args [][]byte) string {
	want := map[string]bool{}
	for _, a := range args {
		name := strings.ToLower(string(a))
		switch name {
		case "all", "everything":
			for _, d := range infoSections {
				want[d] = true
			}
		case "default":
			defaults(want)
		default:
			want[name] = true
		}
	}
	if len(args) == 0 {
		defaults(want)
	}
	var b strings.Builder
	for _, sec := range infoSections {
		if !want[sec] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		title := strings.ToUpper(sec[:1]) + sec[1:]
		if sec == "cpu" {
			title = "CPU" // as Redis spells it
		}
		fmt.Fprintf(&b, "# %s\r\n", title)
		for _, kv := range s.infoSection(sec) {
			fmt.Fprintf(&b, "%s:%s\r\n", kv[0], kv[1])
		}
	}
	return b.String()
}

// defaults adds INFO's default sections to want.
func defaults(want map[string]bool) {
	for _, d := range infoSections {
		if d != "commandstats" {
			want[d] = true
		}
	}
}

func (s *Server) infoSection(sec string) [][2]string {
	now := time.Now()
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	switch sec {
	case "server":
		port := "0"
		for _, a := range s.Addrs() {
			if a.Network() == "tcp" {
				if _, p, err := splitHostPort(a.String()); err == nil {
					port = p
				}
			}
		}
		up := int64(now.Sub(s.started).Seconds())
		return [][2]string{
			{"redis_version", redisVersion},
			{"sessiond_version", s.cfg.Version},
			{"redis_mode", "standalone"},
			{"os", runtime.GOOS + " " + runtime.GOARCH},
			{"arch_bits", strconv.Itoa(strconv.IntSize)},
			{"go_version", runtime.Version()},
			{"process_id", strconv.Itoa(os.Getpid())},
			{"tcp_port", port},
			{"server_time_usec", itoa(s.storeNow().UnixMicro())},
			{"uptime_in_seconds", itoa(up)},
			{"uptime_in_days", itoa(up / 86400)},
			{"executable", executable()},
		}
	case "clients":
		return [][2]string{
			{"connected_clients", itoa(s.clients.Load())},
			{"maxclients", strconv.Itoa(s.cfg.MaxClients)},
			{"blocked_clients", "0"},
		}
	case "memory":
		st := s.st.Stats()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := readRSS()
		// used_memory is what maxmemory caps (the store's records and
		// index), so that used_memory/maxmemory says how close eviction
		// is, as in Redis; the Go heap (connections' buffers and the
		// like) is apart, and RSS holds both.
		return [][2]string{
			{"used_memory", itoa(st.UsedMemory)},
			{"used_memory_human", human(st.UsedMemory)},
			{"used_memory_rss", itoa(rss)},
			{"used_memory_rss_human", human(rss)},
			{"used_memory_dataset", itoa(st.RecordBytes)},
			{"sessiond_record_bytes", itoa(st.RecordBytes)},
			{"sessiond_go_heap_inuse", itoa(int64(ms.HeapInuse))},
			{"maxmemory", itoa(st.MaxMemory)},
			{"maxmemory_human", human(st.MaxMemory)},
			{"maxmemory_policy", st.Policy.String()},
		}
	case "persistence":
		return s.persistenceInfo()
	case "stats":
		st := s.st.Stats()
		t := &s.totals().all
		return [][2]string{
			{"total_connections_received", itoa(s.stats.connections.Load())},
			{"total_commands_processed", itoa(t.commands.Load())},
			{"total_net_input_bytes", itoa(t.netIn.Load())},
			{"total_net_output_bytes", itoa(t.netOut.Load())},
			{"rejected_connections", itoa(s.stats.rejected.Load())},
			{"expired_keys", itoa(st.Expirations - s.stats.expiredBase.Load())},
			{"evicted_keys", itoa(st.Evictions - s.stats.evictedBase.Load())},
			{"keyspace_hits", itoa(t.hits.Load())},
			{"keyspace_misses", itoa(t.misses.Load())},
			{"total_error_replies", itoa(s.totalErrors())},
		}
	case "commandstats":
		return s.commandstatsInfo()
	case "errorstats":
		return s.errorstatsInfo()
	case "replication":
		return s.replicationInfo()
	case "cluster":
		// Not Redis Cluster (clients that see cluster_enabled:1 ask
		// for CLUSTER SLOTS): every node holds every key.
		fields := [][2]string{{"cluster_enabled", "0"}}
		if s.cfg.Cluster != nil {
			fields = append(fields, s.cfg.Cluster.Info()...)
		}
		return fields
	case "cpu":
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		tv := func(t syscall.Timeval) string {
			return fmt.Sprintf("%d.%06d", t.Sec, t.Usec)
		}
		return [][2]string{
			{"used_cpu_sys", tv(ru.Stime)},
			{"used_cpu_user", tv(ru.Utime)},
		}
	case "keyspace":
		st := s.st.Stats()
		if st.Keys == 0 {
			return nil
		}
		return [][2]string{{"db0", fmt.Sprintf("keys=%d,expires=%d,avg_ttl=%d", st.Keys, st.Volatile, s.avgTTL())}}
	}
	return nil
}

func splitHostPort(a string) (string, string, error) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return "", "", fmt.Errorf("no port in %q", a)
	}
	return a[:i], a[i+1:], nil
}

func executable() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}

// readRSS returns the process's resident set size, or 0 where /proc is
// missing.
func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, u := float64(n), "BKMGTP"
	i := 0
	for f >= unit && i < len(u)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.2f%c", f, u[i])
}

// CONFIG GET parameter [parameter ...], CONFIG RESETSTAT
func cmdConfig(c *respConn, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); {
	case sub == "get" && len(args) >= 3:
		settings := c.s.settings()
		var names []string
		for name := range settings {
			for _, p := range args[2:] {
				if glob.Match(strings.ToLower(string(p)), name) {
					names = append(names, name)
					break
				}
			}
		}
		sort.Strings(names)
		c.w.Map(len(names))
		for _, n := range names {
			c.w.BulkString(n)
			c.w.BulkString(settings[n])
		}
	case sub == "resetstat" && len(args) == 2:
		c.s.resetStats(false)
		c.w.OK()
	case sub == "set":
		c.w.Error("ERR CONFIG SET is not supported: sessiond takes its settings from flags, the environment or its config file at start")
	default:
		c.subcommandError("config", args, "get", "resetstat", "set")
	}
}

// settings are the values CONFIG GET answers, by Redis's names where Redis
// has the setting.
func (s *Server) settings() map[string]string {
	o := s.storeOpts
	m := map[string]string{
		"save":                        "",
		"appendonly":                  yesNo(o.Dir != ""),
		"dir":                         o.Dir,
		"appendfsync":                 o.Fsync.String(),
		"auto-aof-rewrite-percentage": "100",
		"auto-aof-rewrite-min-size":   strconv.FormatInt(o.CompactMinSize, 10),
		"databases":                   "1",
		"maxmemory":                   strconv.FormatInt(o.MaxMemory, 10),
		"maxmemory-policy":            o.Policy.String(),
		"maxclients":                  strconv.Itoa(s.cfg.MaxClients),
		"timeout":                     strconv.Itoa(int(s.cfg.Timeout.Seconds())),
		"proto-max-bulk-len":          strconv.Itoa(s.cfg.MaxBulk),
		"max-value-size":              strconv.Itoa(o.MaxValueSize),
		"unixsocket":                  s.cfg.Unix,
		"unixsocketperm":              fmt.Sprintf("%o", s.cfg.UnixPerm),
		"protected-mode":              yesNo(!s.cfg.ProtectedModeOff),
	}
	if s.cfg.RequirePass != "" {
		m["requirepass"] = s.cfg.RequirePass
	} else {
		m["requirepass"] = ""
	}
	for _, a := range s.Addrs() {
		if a.Network() == "tcp" {
			if h, p, err := splitHostPort(a.String()); err == nil {
				m["bind"], m["port"] = h, p
			}
		}
	}
	s.tlsSettings(m)
	for k, v := range s.cfg.Settings {
		if _, ok := m[k]; !ok { // the server's own values, normalized as Redis's
			m[k] = v
		}
	}
	return m
}

// COMMAND, COMMAND COUNT, COMMAND INFO name..., COMMAND DOCS [name...],
// COMMAND LIST
func cmdCommand(c *respConn, args [][]byte) {
	names := make([]string, 0, len(c.s.cmds))
	for n := range c.s.cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	// COMMAND and COMMAND INFO with no names describe every command.
	if len(args) == 1 || (len(args) == 2 && equalFold(args[1], "info")) {
		c.w.Array(len(names))
		for _, n := range names {
			c.commandInfo(c.s.cmds[n])
		}
		return
	}
	switch sub := strings.ToLower(string(args[1])); sub {
	case "count":
		if len(args) != 2 {
			c.refuseSubcommand("ERR wrong number of arguments for 'command|count' command")
			return
		}
		c.w.Int(int64(len(names)))
	case "list":
		c.w.Array(len(names))
		for _, n := range names {
			c.w.BulkString(n)
		}
	case "info":
		c.w.Array(len(args) - 2)
		for _, a := range args[2:] {
			if cmd := c.s.lookup(a); cmd != nil {
				c.commandInfo(cmd)
			} else {
				c.w.Null()
			}
		}
	case "docs":
		c.replyDocs(args[2:]) // command_docs.go
	default:
		c.subcommandError("command", args, "count", "list", "info", "docs")
	}
}

func (c *respConn) commandInfo(cmd *command) {
	c.w.Array(10)
	c.w.BulkString(cmd.name)
	c.w.Int(int64(cmd.arity))
	var flags []string
	if cmd.flags&write != 0 {
		flags = append(flags, "write")
	}
	if cmd.flags&readonly != 0 {
		flags = append(flags, "readonly")
	}
	if cmd.flags&noAuth != 0 {
		flags = append(flags, "no_auth")
	}
	c.w.Set(len(flags))
	for _, f := range flags {
		c.w.Simple(f)
	}
	c.w.Int(int64(cmd.first))
	c.w.Int(int64(cmd.last))
	c.w.Int(int64(cmd.step))
	for range 4 { // ACL categories, tips, key specs, subcommands
		c.w.Array(0)
	}
}

// TIME
func cmdTime(c *respConn, args [][]byte) {
	now := c.s.storeNow() // the clock expiry follows: EXPIREAT from TIME means what it says
	c.w.Array(2)
	c.w.BulkString(strconv.FormatInt(now.Unix(), 10))
	c.w.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}
