package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/report"
)

// The Markdown the phases print: one section per phase, each headed by the
// command, the date and the commit, then its tables and its goals (issue
// 12) as met or missed.

// both reports whether sessiond and Redis both ran, so ratios exist.
func (b *bench) both() bool { return len(b.o.servers) == 2 }

// setupLine describes how each server is started in mode, for the tables.
func (b *bench) setupLine(mode string) string {
	sd := strings.Join(b.args(target.Sessiond, mode, "DIR"), " ")
	rd := strings.Join(quoteEmpty(b.args(target.Redis, mode, "DIR")), " ")
	if mode == memOnly {
		if sd != "" {
			return "none: sessiond `" + sd + "` (no `--dir`), Redis `--appendonly no --save \"\"`"
		}
		return "none: sessiond without `--dir`, Redis `--appendonly no --save \"\"`"
	}
	return fmt.Sprintf("%s: sessiond `%s`, Redis `%s`", mode, sd, rd)
}

func quoteEmpty(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if a == "" {
			out[i] = `""`
		}
	}
	return out
}

func (b *bench) printCPU(w io.Writer, res map[cell]*writeSample, raw []string) bool {
	fmt.Fprintf(w, "### Persistence: CPU per SET, appendfsync everysec\n\n%s\n\n", b.stamp)
	fmt.Fprintf(w, "New sessions set as connect-redis sets them (`SET sess:<32 hex> <%d bytes of express-session JSON> EX 86400`) over loopback TCP, %d connections; each run on a fresh server, %v of warm-up then %v measured (at most %s SETs), %d round(s) alternating which server goes first, figures summed over rounds. %s; %s. CPU is utime+stime of the server from /proc/PID/stat over the measured run (with any child it reaped: none here), divided by the SETs; user and system are the process's own. Latency is per round trip.\n\n",
		b.o.value, b.o.conns, b.o.warmup, b.o.duration, report.Thousands(float64(b.o.runOps)), b.o.rounds, b.setupLine(memOnly), b.setupLine(everysec))
	if b.o.cpuRate > 0 {
		fmt.Fprintf(w, "Offered load: %s SETs/s over all connections, each on a fixed schedule (-cpu-rate), so both servers serve the same load.\n\n", report.Thousands(b.o.cpuRate))
	}
	fmt.Fprintln(w, "| pipeline | persistence | server | SET/s | p50 µs | p99 µs | CPU µs/SET | user µs/SET | system µs/SET | CPU × own in-memory | CPU sessiond/redis |")
	fmt.Fprintln(w, "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	valid := true
	for _, p := range b.o.pipelines {
		for _, mode := range []string{memOnly, everysec} {
			for _, name := range b.o.servers {
				s := res[cell{p, mode, name}]
				if s == nil {
					continue
				}
				note := invalidNote(s.errors, s.firstErr)
				valid = valid && note == ""
				over := ""
				if mem := res[cell{p, memOnly, name}]; mode != memOnly && mem != nil {
					over = report.Ratio(s.perOp(s.cpu), mem.perOp(mem.cpu))
				}
				cmp := ""
				if r := res[cell{p, mode, target.Redis}]; name == target.Sessiond && r != nil {
					cmp = report.Ratio(s.perOp(s.cpu), r.perOp(r.cpu))
				}
				fmt.Fprintf(w, "| %d | %s | %s | %s%s | %s | %s | %.2f | %.2f | %.2f | %s | %s |\n",
					p, mode, name, report.Thousands(s.opsPerSec()), note,
					report.Latency(us(s.latency.Quantile(0.5))), report.Latency(us(s.latency.Quantile(0.99))),
					s.perOp(s.cpu), s.perOp(s.own.User), s.perOp(s.own.System), over, cmp)
			}
		}
	}
	fmt.Fprintln(w)
	if b.both() {
		for _, g := range []struct {
			pipeline int
			limit    float64
		}{{16, 0.8}, {1, 1.0}} {
			sd, rd := res[cell{g.pipeline, everysec, target.Sessiond}], res[cell{g.pipeline, everysec, target.Redis}]
			if sd == nil || rd == nil {
				continue
			}
			r := sd.perOp(sd.cpu) / rd.perOp(rd.cpu)
			fmt.Fprintf(w, "- Goal, pipeline %d: CPU per SET with everysec ≤ %.1f× Redis's: %.2f× — %s.\n", g.pipeline, g.limit, r, metMissed(r <= g.limit))
		}
		fmt.Fprintln(w)
	}
	printRaw(w, raw)
	return valid
}

func (b *bench) printAlways(w io.Writer, res map[cell]*writeSample, raw []string) bool {
	fmt.Fprintf(w, "### Persistence: appendfsync always\n\n%s\n\n", b.stamp)
	fmt.Fprintf(w, "New sessions set as connect-redis sets them (`SET sess:<32 hex> <%d bytes of express-session JSON> EX 86400`) over loopback TCP, %d connections, flat out; each run on a fresh server, %v of warm-up then %v measured (at most %s SETs), %d round(s) alternating which server goes first, figures summed over rounds. %s. Every SET is acknowledged only once an fsync covers it. SETs per fsync is sessiond's group commit (INFO sessiond_fsyncs); Redis does not count its fsyncs.\n\n",
		b.o.value, b.o.conns, b.o.warmup, b.o.duration, report.Thousands(float64(b.o.runOps)), b.o.rounds, b.setupLine(always))
	fmt.Fprintln(w, "| pipeline | server | SET/s | p50 µs | p99 µs | CPU µs/SET | SETs per fsync | SET/s sessiond/redis |")
	fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	valid := true
	for _, p := range b.o.pipelines {
		for _, name := range b.o.servers {
			s := res[cell{p, always, name}]
			if s == nil {
				continue
			}
			note := invalidNote(s.errors, s.firstErr)
			valid = valid && note == ""
			per := "n/a"
			if s.fsyncs > 0 {
				per = fmt.Sprintf("%.1f", float64(s.ops)/float64(s.fsyncs))
			}
			cmp := ""
			if r := res[cell{p, always, target.Redis}]; name == target.Sessiond && r != nil {
				cmp = report.Ratio(s.opsPerSec(), r.opsPerSec())
			}
			fmt.Fprintf(w, "| %d | %s | %s%s | %s | %s | %.2f | %s | %s |\n",
				p, name, report.Thousands(s.opsPerSec()), note,
				report.Latency(us(s.latency.Quantile(0.5))), report.Latency(us(s.latency.Quantile(0.99))),
				s.perOp(s.cpu), per, cmp)
		}
	}
	fmt.Fprintln(w)
	if b.both() {
		for _, p := range b.o.pipelines {
			sd, rd := res[cell{p, always, target.Sessiond}], res[cell{p, always, target.Redis}]
			if sd == nil || rd == nil || (p != 1 && p != 16) {
				continue
			}
			r := sd.opsPerSec() / rd.opsPerSec()
			fmt.Fprintf(w, "- Goal, pipeline %d: writes/s with always ≥ Redis's: %.2f× — %s.\n", p, r, metMissed(r >= 1))
		}
		fmt.Fprintln(w)
	}
	printRaw(w, raw)
	return valid
}

func (b *bench) printSnapshot(w io.Writer, rs []*snapResult) bool {
	data := float64(b.o.sessions) * float64(37+b.o.value)
	fmt.Fprintf(w, "### Persistence: a snapshot under a steady write load\n\n%s\n\n", b.stamp)
	fmt.Fprintf(w, "%s sessions stored (`SET sess:<32 hex> <%d bytes of express-session JSON> EX 86400`; %.0f MB of keys and values), appendfsync everysec (%s), then a steady load of rewrites of those sessions over loopback TCP, %d connections at pipeline %d: %v before the snapshot, then BGSAVE (sessiond: a compaction in the process, no fork; Redis: a forked child writing an RDB) and the load until INFO says it is done, in runs of %v. First paced at %s writes/s (-snap-rate), for latency and memory; then flat out, for throughput. Memory is the server's anonymous memory (RssAnon, /proc/PID/status) plus what each child holds alone (Private_Dirty, /proc/PID/smaps_rollup: a fork's copy-on-write), sampled every %v through both parts: a page shared by Redis and its child counts once, and sessiond's mapped log, page cache, not at all. Before is its mean over the paced load before the snapshot, peak its highest sample during it.\n\n",
		report.Thousands(float64(b.o.sessions)), b.o.value, data/1e6, b.setupLine(everysec), b.o.conns, snapPipeline, b.o.snapBase, slice, report.Thousands(b.o.snapRate), memEvery)
	valid := true
	for _, r := range rs {
		for _, s := range []*sliceSum{&r.paced.base, &r.paced.during, &r.flat.base, &r.flat.during} {
			valid = valid && s.errors == 0
		}
		valid = valid && r.fill.Errors == 0
	}

	fmt.Fprintln(w, "Memory (paced load):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | keys | snapshot took | its CPU | anon memory before | peak during | extra | extra / data | baseline swing | Redis's rdb_last_cow_size |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		cow := "n/a"
		if r.cow >= 0 {
			cow = mb(r.cow)
		}
		extra := r.memPeak - r.memBefore
		fmt.Fprintf(w, "| %s | %s | %v | %v | %s | %s | %s | %.1f%% | %s | %s |\n",
			r.server, report.Thousands(float64(r.keys)), r.paced.took().Round(10*time.Millisecond), r.paced.snapshotCPU().Round(10*time.Millisecond),
			mb(r.memBefore), mb(r.memPeak), mb(extra), 100*float64(extra)/data, mb(r.memSwing), cow)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Latency (paced at %s writes/s; one write per round trip):\n\n", report.Thousands(b.o.snapRate))
	fmt.Fprintln(w, "| server | writes/s before | during | p50 µs before | during | p99 µs before | during | p99 during/before | max µs before | during | CPU µs/write before | during |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		a, d := &r.paced.base, &r.paced.during
		fmt.Fprintf(w, "| %s | %s%s | %s%s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n",
			r.server, report.Thousands(a.opsPerSec()), invalidNote(a.errors, a.firstErr), report.Thousands(d.opsPerSec()), invalidNote(d.errors, d.firstErr),
			report.Latency(us(a.latency.Quantile(0.5))), report.Latency(us(d.latency.Quantile(0.5))),
			report.Latency(us(a.latency.Quantile(0.99))), report.Latency(us(d.latency.Quantile(0.99))),
			report.Ratio(float64(d.latency.Quantile(0.99)), float64(a.latency.Quantile(0.99))),
			report.Latency(us(a.latency.Max())), report.Latency(us(d.latency.Max())), a.cpuPerOp(), d.cpuPerOp())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Throughput (flat out):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | snapshot took | its CPU | writes/s before | during | during/before | p99 µs before | during | CPU µs/write before | during |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		a, d := &r.flat.base, &r.flat.during
		fmt.Fprintf(w, "| %s | %v | %v | %s%s | %s%s | %s | %s | %s | %.2f | %.2f |\n",
			r.server, r.flat.took().Round(10*time.Millisecond), r.flat.snapshotCPU().Round(10*time.Millisecond),
			report.Thousands(a.opsPerSec()), invalidNote(a.errors, a.firstErr),
			report.Thousands(d.opsPerSec()), invalidNote(d.errors, d.firstErr), report.Ratio(d.opsPerSec(), a.opsPerSec()),
			report.Latency(us(a.latency.Quantile(0.99))), report.Latency(us(d.latency.Quantile(0.99))), a.cpuPerOp(), d.cpuPerOp())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Its CPU is the server's and its children's CPU during the snapshot less what the writes served meanwhile cost at the rate before it: the snapshot's own work, which on two cores shared with the load generator is taken from the writes.")
	fmt.Fprintln(w)
	for _, r := range rs {
		if r.server != target.Sessiond {
			continue
		}
		extra := float64(r.memPeak-r.memBefore) / data
		p99 := float64(r.paced.during.latency.Quantile(0.99)) / float64(r.paced.base.latency.Quantile(0.99))
		tput := r.flat.during.opsPerSec() / r.flat.base.opsPerSec()
		fmt.Fprintf(w, "- Goal: extra memory during a snapshot ≤ 10%% of the data: %.1f%% — %s.\n", 100*extra, metMissed(extra <= 0.10))
		fmt.Fprintf(w, "- Goal: write p99 during a snapshot ≤ 1.5× without: %.2f× — %s.\n", p99, metMissed(p99 <= 1.5))
		fmt.Fprintf(w, "- Goal: throughput during a snapshot ≥ 0.8× without: %.2f× — %s.\n", tput, metMissed(tput >= 0.8))
		fmt.Fprintln(w)
	}
	return valid
}

func (b *bench) printStartup(w io.Writer, rs []*startupResult) bool {
	fmt.Fprintf(w, "### Persistence: start-up and bytes on disk\n\n%s\n\n", b.stamp)
	fmt.Fprintf(w, "%s sessions stored (`SET sess:<32 hex> <%d bytes of express-session JSON> EX 86400`) and one probe key, then SAVE. Each value is a session as express-session stores it (cookie, passport user, CSRF secret, cart lines; bench/loadgen/load/session.go), its fields its own, so that compression finds what it would in production. sessiond (`%s`) then takes %s more writes (rewrites of stored sessions) into the log after its snapshot; Redis (`%s`) loads its RDB alone. Ready is from just before the process starts to the first reply to a GET of the probe key that is its value, not LOADING (polled on the Unix socket every %v); every key is checked back (DBSIZE). %d restart(s) each, alternating which goes first; the files are in the page cache.\n\n",
		report.Thousands(float64(b.o.sessions)), b.o.value, strings.Join(b.args(target.Sessiond, rdbOnly, "DIR"), " "), report.Thousands(float64(b.o.logWrites)),
		strings.Join(quoteEmpty(b.args(target.Redis, rdbOnly, "DIR")), " "), pollEvery, b.o.restarts)
	var sdReady, rdReady time.Duration
	var sdCPU, rdCPU time.Duration
	fmt.Fprintln(w, "| server | loads | keys | ready, median | min | max | CPU to ready, median | ready sessiond/redis | CPU sessiond/redis |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		med := median(r.ready)
		loads := "snapshot + log of " + report.Thousands(float64(b.o.logWrites)) + " writes"
		cpu := median(r.cpu)
		if r.server == target.Redis {
			rdReady, rdCPU, loads = med, cpu, "RDB"
		} else {
			sdReady, sdCPU = med, cpu
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | | |\n", r.server, loads, report.Thousands(float64(r.keys)),
			ms(med), ms(slices.Min(r.ready)), ms(slices.Max(r.ready)), ms(cpu))
	}
	if b.both() && sdReady > 0 && rdReady > 0 {
		fmt.Fprintf(w, "| sessiond/redis | | | | | | | %s | %s |\n", report.Ratio(float64(sdReady), float64(rdReady)), report.Ratio(float64(sdCPU), float64(rdCPU)))
	}
	fmt.Fprintln(w)

	var sdPer, rdPer float64
	fmt.Fprintln(w, "| server | file | bytes | bytes/session |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: |")
	for _, r := range rs {
		per := float64(r.fileBytes) / float64(r.keys)
		fmt.Fprintf(w, "| %s | %s | %s | %.1f |\n", r.server, r.file, report.Thousands(float64(r.fileBytes)), per)
		switch r.server {
		case target.Sessiond:
			sdPer = per
			if r.logBytes >= 0 && b.o.logWrites > 0 {
				fmt.Fprintf(w, "| %s | log after it (aof_current_size), per write | %s | %.1f |\n", r.server, report.Thousands(float64(r.logBytes)), float64(r.logBytes)/float64(b.o.logWrites))
			}
		case target.Redis:
			rdPer = per
			if r.rawBytes >= 0 {
				fmt.Fprintf(w, "| %s | the same RDB with rdbcompression no | %s | %.1f |\n", r.server, report.Thousands(float64(r.rawBytes)), float64(r.rawBytes)/float64(r.keys))
			}
		}
	}
	fmt.Fprintln(w)
	if b.both() && sdReady > 0 && rdReady > 0 {
		rr := float64(sdReady) / float64(rdReady)
		fmt.Fprintf(w, "- Goal: start-up ≤ 0.5× Redis's: %.2f× (medians) — %s.\n", rr, metMissed(rr <= 0.5))
		dr := sdPer / rdPer
		fmt.Fprintf(w, "- Goal: disk bytes per session ≤ 1.1× Redis's RDB: %.2f× — %s.\n", dr, metMissed(dr <= 1.1))
		for _, r := range rs {
			if r.server == target.Redis && r.rawBytes > 0 {
				fmt.Fprintf(w, "  Against Redis's RDB without compression: %.2f×.\n", sdPer/(float64(r.rawBytes)/float64(r.keys)))
			}
		}
		fmt.Fprintln(w)
	}
	var notes []string
	for _, r := range rs {
		for i, n := range r.loadNote {
			if n != "" {
				notes = append(notes, fmt.Sprintf("%s restart %d: ready %s, CPU %s%s", r.server, i+1, ms(r.ready[i]), ms(r.cpu[i]), n))
			}
		}
	}
	printRaw(w, notes)
	return true
}

// printRaw writes one line per run, folded away.
func printRaw(w io.Writer, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "<details><summary>every run</summary>\n\n```\n%s\n```\n\n</details>\n\n", strings.Join(lines, "\n"))
}

func invalidNote(errors int64, first string) string {
	if errors == 0 {
		return ""
	}
	return fmt.Sprintf(" **INVALID: %d errors (%s)**", errors, first)
}

func metMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) }
