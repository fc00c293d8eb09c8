package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
	"github.com/sessiond/sessiond/bench/report"
)

// printThroughput writes the throughput table and the raw runs; it
// reports false if any run had error replies.
func (b *bench) printThroughput(w io.Writer, configs []config, results map[string]map[config]*sample, raw []string) bool {
	both := len(b.o.servers) == 2
	ref := b.o.reference
	fmt.Fprintf(w, "### Throughput and server CPU per operation, %s\n\n", protocolName(b.o.protocol))
	values := fmt.Sprintf("%d-byte values", b.o.value)
	if d := b.valueSpread(); d > 0 {
		values = fmt.Sprintf("values of %d to %d bytes (%d ± %d%%, uniform, drawn for each SET)", b.o.value-d, b.o.value+d, b.o.value, b.o.spread)
	}
	fmt.Fprintf(w, "Every command over the %s. %d connections, %s, %d random keys (filled before the runs), %v measured after %v of warm-up, %d round(s) per server alternating which goes first; figures summed over rounds. Latency is per round trip (at pipeline 16, one round trip carries 16 commands). Server CPU is utime+stime of the server process over the measured phase, from /proc/PID/stat (clock tick %v); user and system are utime and stime apart.\n\n",
		protocolName(b.o.protocol), b.o.conns, values, b.o.keyspace, b.o.duration, b.o.warmup, b.o.rounds, target.ClockTick())
	if b.o.rate > 0 {
		fmt.Fprintf(w, "Offered load: %s commands/s over all connections, each connection on a fixed schedule (-rate), so both servers serve the same load; a server below that rate could not keep up.\n\n", report.Thousands(b.o.rate))
	}
	head := "| transport | pipeline | op | server | ops/s | p50 µs | p99 µs | server CPU µs/op | user µs/op | system µs/op |"
	sep := "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	if both {
		head += fmt.Sprintf(" CPU/op sessiond/%s | ops/s sessiond/%s |", ref, ref)
		sep += " ---: | ---: |"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	valid := true
	for _, c := range configs {
		for _, name := range b.o.servers {
			s := results[name][c]
			note := ""
			if s.errors > 0 {
				valid = false
				note = fmt.Sprintf(" **INVALID: %d errors (%s)**", s.errors, s.firstErr)
			}
			if s.misses > 0 {
				note += fmt.Sprintf(" (%d misses)", s.misses)
			}
			row := fmt.Sprintf("| %s | %d | %v | %s | %s%s | %s | %s | %.2f | %.2f | %.2f |",
				c.transport, c.pipeline, c.op, name, report.Thousands(s.opsPerSec()), note,
				report.Latency(us(s.latency.Quantile(0.5))), report.Latency(us(s.latency.Quantile(0.99))),
				s.cpuPerOp(), s.userPerOp(), s.sysPerOp())
			if both {
				if name == target.Sessiond {
					r := results[ref][c]
					row += fmt.Sprintf(" %s | %s |", report.Ratio(s.cpuPerOp(), r.cpuPerOp()), report.Ratio(s.opsPerSec(), r.opsPerSec()))
				} else {
					row += " | |"
				}
			}
			fmt.Fprintln(w, row)
		}
	}
	fmt.Fprintf(w, "\n<details><summary>every run</summary>\n\n```\n%s\n```\n\n</details>\n\n", strings.Join(raw, "\n"))
	return valid
}

func (b *bench) printMemory(w io.Writer, rs []memResult) {
	n := float64(b.o.sessions)
	fmt.Fprintf(w, "### Memory per session\n\n")
	fmt.Fprintf(w, "%s sessions set over the Unix socket on a fresh server as connect-redis does (`SET sess:<32 hex> <%d bytes> EX 86400`, 37-byte keys, %d connections at pipeline 16); VmRSS from /proc/PID/status at start and %v after the last reply.\n\n",
		report.Thousands(n), b.o.value, b.o.conns, b.o.settle)
	fmt.Fprintln(w, "| server | keys (DBSIZE) | RSS at start | RSS after | growth bytes/session | total RSS bytes/session | load sets/s | server CPU µs/set |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var per = map[string]float64{}
	for _, r := range rs {
		keys := report.Thousands(float64(r.keys))
		if r.keys < 0 {
			keys = "n/a (" + r.dbsizeNote + ")"
		}
		note := ""
		if r.load.Errors > 0 {
			note = fmt.Sprintf(" **INVALID: %d errors (%s)**", r.load.Errors, r.load.FirstError)
		}
		growth := float64(r.rssEnd-r.rssStart) / n
		per[r.server] = growth
		fmt.Fprintf(w, "| %s | %s%s | %.1f MB | %.1f MB | %.1f | %.1f | %s | %.2f |\n",
			r.server, keys, note, float64(r.rssStart)/1e6, float64(r.rssEnd)/1e6, growth, float64(r.rssEnd)/n,
			report.Thousands(r.load.OpsPerSec()), float64(r.cpu.Microseconds())/n)
	}
	if len(rs) == 2 {
		fmt.Fprintf(w, "\nsessiond/redis, RSS growth per session: %s\n", report.Ratio(per[target.Sessiond], per[target.Redis]))
	}
	fmt.Fprintln(w)
}

// protocolName names a protocol for the tables.
func protocolName(p load.Protocol) string {
	if p == load.Memcache {
		return "memcached text protocol"
	}
	return "Redis protocol (RESP2)"
}
