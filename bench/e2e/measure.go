package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
)

// result is one measured run.
type result struct {
	server     string
	mode       mode
	requests   int64
	seconds    float64
	p50, p99   float64 // ms
	bad        int64   // errors + timeouts + non2xx
	storeCPU   time.Duration
	appCPU     time.Duration
	counterErr string
}

func (r *result) perSec() float64 { return float64(r.requests) / r.seconds }

func (r *result) cpuPerReq(d time.Duration) float64 {
	return float64(d.Microseconds()) / float64(max(r.requests, 1))
}

// acReport is the part of autocannon's -j output we use.
type acReport struct {
	Duration float64 `json:"duration"`
	Errors   int64   `json:"errors"`
	Timeouts int64   `json:"timeouts"`
	Non2xx   int64   `json:"non2xx"`
	Requests struct {
		Total int64 `json:"total"`
	} `json:"requests"`
	Latency struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency"`
}

func autocannon(ctx context.Context, dir string, d time.Duration, conns int, url, cookie string) (*acReport, error) {
	args := []string{"--no-install", "autocannon", "-j", "-c", strconv.Itoa(conns), "-d", strconv.Itoa(int(d / time.Second))}
	if cookie != "" {
		args = append(args, "-H", "Cookie="+cookie)
	}
	args = append(args, url)
	cmd := exec.CommandContext(ctx, "npx", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("autocannon: %v\n%s", err, stderr.String())
	}
	var r acReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("autocannon output: %v\n%s", err, out)
	}
	return &r, nil
}

func measure(ctx context.Context, o *options, dir string, st *stack, server string, m mode) (*result, error) {
	cookie := ""
	if m.cookie {
		cookie = st.cookie
	}
	url := st.url + m.path
	if o.warmup > 0 {
		if _, err := autocannon(ctx, dir, o.warmup, o.conns, url, cookie); err != nil {
			return nil, err
		}
	}
	before, err := st.counter(ctx)
	if err != nil {
		return nil, err
	}
	store0, err := st.store.CPU()
	if err != nil {
		return nil, err
	}
	app0, err := target.ProcessCPU(st.app.Process.Pid)
	if err != nil {
		return nil, err
	}
	ac, err := autocannon(ctx, dir, o.duration, o.conns, url, cookie)
	if err != nil {
		return nil, err
	}
	store1, err := st.store.CPU()
	if err != nil {
		return nil, err
	}
	app1, err := target.ProcessCPU(st.app.Process.Pid)
	if err != nil {
		return nil, err
	}
	r := &result{
		server: server, mode: m,
		requests: ac.Requests.Total, seconds: ac.Duration,
		p50: ac.Latency.P50, p99: ac.Latency.P99,
		bad:      ac.Errors + ac.Timeouts + ac.Non2xx,
		storeCPU: store1 - store0, appCPU: app1 - app0,
	}
	// The session must have been read and written through the store: a
	// broken cookie would turn read into a no-op and write into new.
	after, err := st.counter(ctx)
	switch {
	case err != nil:
		r.counterErr = fmt.Sprintf("counter: %v", err)
	case m.name == "write" && after <= before:
		r.counterErr = fmt.Sprintf("counter did not grow (%d -> %d)", before, after)
	case m.name != "write" && after != before:
		r.counterErr = fmt.Sprintf("counter changed (%d -> %d)", before, after)
	}
	return r, nil
}
