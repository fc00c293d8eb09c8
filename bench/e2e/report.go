package main

import (
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
)

func report(w io.Writer, o *options, args []string, bins map[string]string, rs []*result) bool {
	fmt.Fprintf(w, "`go run ./bench/e2e %s` — %s\n\n", strings.Join(args, " "), time.Now().Format("2006-01-02 15:04 MST"))
	versions := []string{nodeVersion()}
	for _, s := range o.servers {
		versions = append(versions, target.Version(bins[s]))
	}
	fmt.Fprintf(w, "Versions: %s. Load average at the end: %s.\n\n", strings.Join(versions, "; "), target.LoadAvg())
	fmt.Fprintf(w, "express 5 + express-session 1.19 + connect-redis 9 on node-redis 5, one Node process, reaching the store over %s; autocannon with %d connections for %v after %v of warm-up, %d round(s) per store alternating which goes first; requests and CPU summed over rounds, latencies averaged. Store CPU is utime+stime of the store process over the runs, from /proc/PID/stat (clock tick %v), divided by the requests; app CPU the same for the Node process.\n\n",
		o.transport, o.conns, o.duration, o.warmup, o.rounds, target.ClockTick())
	both := len(o.servers) == 2
	head := "| mode | store commands | server | req/s | p50 ms | p99 ms | store CPU µs/req | app CPU µs/req |"
	sep := "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
	if both {
		head += " store CPU sessiond/redis | req/s sessiond/redis |"
		sep += " ---: | ---: |"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	valid := true
	// Rounds add up: requests, seconds and CPU are summed, latencies
	// averaged (autocannon's percentiles cannot be merged).
	find := func(server string, m mode) *result {
		sum := &result{server: server, mode: m}
		n := 0
		for _, r := range rs {
			if r.server != server || r.mode.name != m.name {
				continue
			}
			n++
			sum.requests += r.requests
			sum.seconds += r.seconds
			sum.p50 += r.p50
			sum.p99 += r.p99
			sum.bad += r.bad
			sum.storeCPU += r.storeCPU
			sum.appCPU += r.appCPU
			if sum.counterErr == "" {
				sum.counterErr = r.counterErr
			}
		}
		sum.p50 /= float64(max(n, 1))
		sum.p99 /= float64(max(n, 1))
		return sum
	}
	for _, m := range o.modes {
		for _, s := range o.servers {
			r := find(s, m)
			note := ""
			if r.bad > 0 || r.counterErr != "" {
				valid = false
				note = fmt.Sprintf(" **INVALID: %d bad responses %s**", r.bad, r.counterErr)
			}
			row := fmt.Sprintf("| %s | %s | %s | %.0f%s | %.0f | %.0f | %.1f | %.0f |",
				m.name, m.store, s, r.perSec(), note, r.p50, r.p99, r.cpuPerReq(r.storeCPU), r.cpuPerReq(r.appCPU))
			if both {
				if s == target.Sessiond {
					rd := find(target.Redis, m)
					row += fmt.Sprintf(" %s | %s |", ratio(r.cpuPerReq(r.storeCPU), rd.cpuPerReq(rd.storeCPU)), ratio(r.perSec(), rd.perSec()))
				} else {
					row += " | |"
				}
			}
			fmt.Fprintln(w, row)
		}
	}
	fmt.Fprintln(w)
	return valid
}

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "node unknown"
	}
	return "node " + strings.TrimSpace(string(out))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}
