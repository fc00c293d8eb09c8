package goclients

import (
	"context"
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// How TestOperatorAgainstRedis compares INFO: every field sessiond answers
// must be in infoFields, which says how it compares with redis-server's
// field of the same name after the same commands. A field sessiond adds
// without a row fails the test: add the row (a field of sessiond's own is
// named sessiond_* and is sessiondOnly). A name ending in * covers every
// field it matches (path.Match), for fields named after commands or
// errors, such as cmdstat_* and errorstat_*.

// infoCheck compares one field's values, sessiond's and Redis's, and
// returns what is wrong, or "".
type infoCheck func(s, r string) string

// infoFields are the INFO fields sessiond answers, by name.
var infoFields = map[string]infoCheck{
	// Server
	"redis_version":     number("version", `^\d+\.\d+\.\d+$`), // sessiond's is the version whose commands it follows
	"sessiond_version":  sessiondOnly,
	"redis_mode":        equal,
	"os":                someText,
	"arch_bits":         equal,
	"go_version":        sessiondOnly,
	"process_id":        number("integer", `^\d+$`),
	"tcp_port":          number("integer", `^\d+$`),
	"server_time_usec":  near(5e6), // µs since the epoch, both now
	"uptime_in_seconds": near(60),
	"uptime_in_days":    equal,
	"executable":        someText,
	// Clients
	"connected_clients": equal,
	"maxclients":        number("integer", `^\d+$`), // Redis lowers it to its file limit
	"blocked_clients":   equal,
	// Memory: sessiond's used_memory is what maxmemory caps (records and
	// index), as Redis's is what its maxmemory compares; both in bytes.
	"used_memory":            bytesUnder("maxmemory"),
	"used_memory_human":      number("size", `^\d+(\.\d\d[KMGTP])?B?$`),
	"used_memory_rss":        number("integer", `^[1-9]\d*$`),
	"used_memory_rss_human":  number("size", `^\d+(\.\d\d[KMGTP])?B?$`),
	"used_memory_dataset":    number("integer", `^\d+$`),
	"sessiond_record_bytes":  sessiondOnly,
	"sessiond_go_heap_inuse": sessiondOnly,
	"maxmemory":              equal,
	"maxmemory_human":        equal,
	"maxmemory_policy":       equal,
	// Persistence: both run without a data directory.
	"loading":                     equal,
	"async_loading":               equal,
	"rdb_changes_since_last_save": number("integer", `^\d+$`),
	"rdb_bgsave_in_progress":      equal,
	"rdb_last_save_time":          near(60), // s since the epoch: the start, with nothing saved
	"rdb_last_bgsave_status":      equal,
	"rdb_last_bgsave_time_sec":    equal,
	"rdb_saves":                   equal,
	"rdb_last_load_keys_loaded":   equal,
	"aof_enabled":                 equal,
	"aof_rewrite_in_progress":     equal,
	"aof_rewrite_scheduled":       equal,
	"aof_last_rewrite_time_sec":   equal,
	"aof_last_bgrewrite_status":   equal,
	"aof_rewrites":                equal,
	"aof_last_write_status":       equal,
	// Stats: counted alike since CONFIG RESETSTAT.
	"total_connections_received": equal,
	"total_commands_processed":   equal,
	"total_net_input_bytes":      number("integer", `^[1-9]\d*$`), // replies differ in size (CLIENT LIST, HELP)
	"total_net_output_bytes":     number("integer", `^[1-9]\d*$`),
	"rejected_connections":       equal,
	"expired_keys":               equal,
	"evicted_keys":               equal,
	"keyspace_hits":              equal,
	"keyspace_misses":            equal,
	"total_error_replies":        plusRefused,
	// Replication: a master without replicas, as a cluster node is too.
	"role":                           equal,
	"connected_slaves":               equal,
	"master_failover_state":          equal,
	"master_replid":                  number("replication ID", `^[0-9a-f]{40}$`),
	"master_replid2":                 equal,
	"master_repl_offset":             equal,
	"second_repl_offset":             equal,
	"repl_backlog_active":            equal,
	"repl_backlog_size":              number("integer", `^\d+$`), // sessiond keeps no backlog: 0
	"repl_backlog_first_byte_offset": equal,
	"repl_backlog_histlen":           equal,
	// Commandstats and errorstats: the counts alike, the times not.
	"cmdstat_*":   cmdstat,
	"errorstat_*": equal,
	// The documented differences (sessiondRefuses: OBJECT IDLETIME) are
	// errors over RESP that Redis does not answer.
	"errorstat_ERR":           plusRefused,
	"cmdstat_object|idletime": cmdstatPlusRefused,
	// CPU
	"used_cpu_sys":  number("seconds", `^\d+\.\d{6}$`),
	"used_cpu_user": number("seconds", `^\d+\.\d{6}$`),
	// Cluster
	"cluster_enabled": equal,
	// Keyspace
	"db0": keyspace,
}

// lookupField returns the row for a field: its own, or a pattern's.
func lookupField(name string) (infoCheck, bool) {
	if c, found := infoFields[name]; found {
		return c, true
	}
	for pat, c := range infoFields {
		if strings.HasSuffix(pat, "*") {
			if m, _ := path.Match(pat, name); m {
				return c, true
			}
		}
	}
	return nil, false
}

// sessiondOnly marks a field of sessiond's own (a nil check), which Redis
// must not have (compareInfo checks), so that no reader takes it for
// Redis's.
var sessiondOnly infoCheck

func equal(s, r string) string {
	if s != r {
		return "values differ"
	}
	return ""
}

func someText(s, r string) string {
	if s == "" || r == "" {
		return "want text from both"
	}
	return ""
}

// number: both values have the form re describes (what says which).
func number(what, re string) infoCheck {
	rx := regexp.MustCompile(re)
	return func(s, r string) string {
		if !rx.MatchString(s) || !rx.MatchString(r) {
			return "want a " + what + " (" + re + ") from both"
		}
		return ""
	}
}

// near: both are integers within d of each other.
func near(d float64) infoCheck {
	return func(s, r string) string {
		a, err1 := strconv.ParseFloat(s, 64)
		b, err2 := strconv.ParseFloat(r, 64)
		if err1 != nil || err2 != nil || math.Abs(a-b) > d {
			return "want numbers within " + strconv.FormatFloat(d, 'f', -1, 64) + " of each other"
		}
		return ""
	}
}

// bytesUnder marks used_memory: bytes from both, and compareInfo checks
// it against the cap named (maxmemory).
func bytesUnder(string) infoCheck { return number("integer", `^[1-9]\d*$`) }

// keyspace compares db0: keys and expires equal, avg_ttl of both in ms
// and within a fifth of the keys' average (opSteps's keys live 1000 s and
// 2000 s: 1,500,000 ms).
// refusedBySessiond counts the steps of TestOperatorAgainstRedis that
// sessiond answers with an error where Redis answers a value, as
// documented (sessiondRefuses): its error counts are that many more.
var refusedBySessiond int

// plusRefused: sessiond's count is Redis's and refusedBySessiond's.
func plusRefused(s, r string) string {
	return withRefused(s, r, "")
}

// cmdstatPlusRefused: a cmdstat_ line alike but for failed_calls, which
// are Redis's and refusedBySessiond's.
func cmdstatPlusRefused(s, r string) string {
	re := regexp.MustCompile(`failed_calls=(\d+)$`)
	sm, rm := re.FindStringSubmatch(s), re.FindStringSubmatch(r)
	if sm == nil || rm == nil {
		return "no failed_calls in both"
	}
	if msg := cmdstat(re.ReplaceAllString(s, "failed_calls=0"), re.ReplaceAllString(r, "failed_calls=0")); msg != "" {
		return msg
	}
	return withRefused(sm[1], rm[1], "failed_calls: ")
}

// withRefused compares two counts, sessiond's being Redis's and
// refusedBySessiond's, read after a prefix ("count=" is skipped).
func withRefused(s, r, what string) string {
	sn, err1 := strconv.Atoi(strings.TrimPrefix(s, "count="))
	rn, err2 := strconv.Atoi(strings.TrimPrefix(r, "count="))
	if err1 != nil || err2 != nil || sn != rn+refusedBySessiond {
		return fmt.Sprintf("%swant Redis's count and %d (the documented refusals)", what, refusedBySessiond)
	}
	return ""
}

// cmdstat compares a cmdstat_ line's calls, rejected and failed calls,
// and that both have a time.
func cmdstat(s, r string) string {
	re := regexp.MustCompile(`^calls=(\d+),usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=(\d+),failed_calls=(\d+)$`)
	sm, rm := re.FindStringSubmatch(s), re.FindStringSubmatch(r)
	switch {
	case sm == nil || rm == nil:
		return "want calls=N,usec=N,usec_per_call=N.NN,rejected_calls=N,failed_calls=N from both"
	case sm[1] != rm[1] || sm[2] != rm[2] || sm[3] != rm[3]:
		return "calls, rejected or failed calls differ"
	}
	return ""
}

func keyspace(s, r string) string {
	re := regexp.MustCompile(`^keys=(\d+),expires=(\d+),avg_ttl=(\d+)$`)
	sm, rm := re.FindStringSubmatch(s), re.FindStringSubmatch(r)
	if sm == nil || rm == nil {
		return "want keys=N,expires=N,avg_ttl=N from both"
	}
	if sm[1] != rm[1] || sm[2] != rm[2] {
		return "keys or expires differ"
	}
	for _, v := range []string{sm[3], rm[3]} {
		if ms, _ := strconv.ParseInt(v, 10, 64); ms < 1_200_000 || ms > 1_800_000 {
			return "avg_ttl " + v + ": want about 1500000 (ms) from both"
		}
	}
	return ""
}

// infoOf reads INFO everything into sections of fields.
func infoOf(ctx context.Context, t *testing.T, x *side) (fields map[string]string, section map[string]string) {
	t.Helper()
	txt, err := x.rdb.Info(ctx, "everything").Result()
	if err != nil {
		t.Fatalf("%s: INFO everything: %v", x.name, err)
	}
	fields, section = map[string]string{}, map[string]string{}
	sec := ""
	for _, l := range strings.Split(txt, "\r\n") {
		if h, found := strings.CutPrefix(l, "# "); found {
			sec = h
			continue
		}
		if k, v, found := strings.Cut(l, ":"); found {
			fields[k], section[k] = v, sec
		}
	}
	return fields, section
}

// compareInfo checks every field of sessiond's INFO against Redis's.
func compareInfo(ctx context.Context, t *testing.T, sd, rd *side) {
	t.Helper()
	// Sessiond first: Redis's INFO counts the one before it, as does
	// sessiond's, so each reads the same count.
	sf, ssec := infoOf(ctx, t, sd)
	rf, rsec := infoOf(ctx, t, rd)
	if len(sf) < 40 {
		t.Fatalf("sessiond's INFO has %d fields", len(sf))
	}
	for name, s := range sf {
		check, found := lookupField(name)
		r, inRedis := rf[name]
		switch {
		case !found:
			t.Errorf("INFO %s:%s (section %s): not in infoFields; add how it compares with Redis's", name, s, ssec[name])
		case check == nil: // sessiondOnly
			if inRedis {
				t.Errorf("INFO %s is sessiond's own, but Redis has it (%s)", name, r)
			}
		case !inRedis:
			t.Errorf("INFO %s:%s: Redis has no such field", name, s)
		case ssec[name] != rsec[name]:
			t.Errorf("INFO %s: in section %q, Redis has it in %q", name, ssec[name], rsec[name])
		default:
			if msg := check(s, r); msg != "" {
				t.Errorf("INFO %s: sessiond %q, redis %q: %s", name, s, r, msg)
			}
		}
	}
	used, _ := strconv.ParseInt(sf["used_memory"], 10, 64)
	if limit, _ := strconv.ParseInt(sf["maxmemory"], 10, 64); limit == 0 || used > limit {
		t.Errorf("INFO used_memory %d, maxmemory %d: want the memory maxmemory caps, under it", used, limit)
	}
}
