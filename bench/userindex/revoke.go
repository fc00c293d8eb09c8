package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
	"github.com/sessiond/sessiond/bench/report"
)

// revoke times SESSION.REVOKE of users with -per-user sessions each, one
// after another over one connection, and prints the table. It reports
// false if a revoke answered an error or the wrong count.
func (b *bench) revoke(ctx context.Context, w io.Writer) (ok bool, err error) {
	var extra []string
	httpAddr := ""
	if b.o.profile != "" {
		if httpAddr, err = freeAddr(); err != nil {
			return false, err
		}
		extra = []string{"--http-addr", httpAddr, "--http-pprof"}
	}
	s, err := b.start(ctx, on, extra...)
	if err != nil {
		return false, err
	}
	defer s.Stop()
	total := b.o.revokeUsers * b.o.perUser
	// New sessions numbered from 0: session k belongs to user k mod
	// users, so every user has exactly -per-user of them.
	g, err := load.Dial(ctx, load.Config{
		Network: "unix", Addr: s.Unix, Conns: b.o.conns, Pipeline: 16,
		Op: load.OpSession, ValueSize: b.o.value, Users: b.o.revokeUsers,
	})
	if err != nil {
		return false, err
	}
	b.logf("revoke: setting %d sessions of %d users", total, b.o.revokeUsers)
	res, err := g.Run(ctx, 0, int64(total))
	g.Close()
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("%d error replies (first: %s)", res.Errors, res.FirstError)
	}
	if err != nil {
		return false, fmt.Errorf("fill: %w", err)
	}
	c, err := dialUnix(ctx, s.Unix)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if n, err := c.do("SESSION.COUNT", load.SessionUser(0)); err != nil || n != strconv.Itoa(b.o.perUser) {
		return false, fmt.Errorf("SESSION.COUNT of user 0: %q, %v; want %d", n, err, b.o.perUser)
	}

	loadStart := target.LoadAvg()
	var lat load.Histogram
	revoked, wrong := 0, 0
	firstWrong := ""
	cpu0, err := s.CPUTime()
	if err != nil {
		return false, err
	}
	start := time.Now()
	for u := range b.o.revokes {
		user := load.SessionUser(uint64(u))
		t0 := time.Now()
		text, err := c.do("SESSION.REVOKE", user)
		lat.Record(time.Since(t0))
		if err != nil {
			return false, fmt.Errorf("SESSION.REVOKE %s: %w", user, err)
		}
		if n, err := strconv.Atoi(text); err != nil || n != b.o.perUser {
			wrong++
			if firstWrong == "" {
				firstWrong = fmt.Sprintf("user %d: %q", u, text)
			}
		} else {
			revoked += n
		}
	}
	elapsed := time.Since(start)
	cpu1, err := s.CPUTime()
	if err != nil {
		return false, err
	}
	dbsize, err := c.do("DBSIZE")
	if err != nil {
		return false, err
	}
	cpu := cpu1.Sub(cpu0)

	fmt.Fprintf(w, "### Revoking a user over the protocol\n\n")
	fmt.Fprintf(w, "A fresh server, the index on, holds %s sessions (%d-byte express-session JSON, set as connect-redis does) of %s users, %d each (session k belongs to user k mod %d, so a user's sessions lie all over the store). One client on the Unix socket sends `SESSION.REVOKE <user>` for %s users in turn, each round trip timed (the next sent when the last is answered). Server CPU is utime+stime from /proc/PID/stat over the revokes (clock tick %v).\n\n",
		report.Thousands(float64(total)), b.o.value, report.Thousands(float64(b.o.revokeUsers)), b.o.perUser, b.o.revokeUsers,
		report.Thousands(float64(b.o.revokes)), target.ClockTick())
	fmt.Fprintln(w, "| revokes | sessions revoked | p50 µs | p90 µs | p99 µs | max µs | mean µs | server CPU µs/revoke | keys left (DBSIZE) | load average before, after |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	note := ""
	if wrong > 0 {
		note = fmt.Sprintf(" **INVALID: %d revokes answered another count (first: %s)**", wrong, firstWrong)
	}
	fmt.Fprintf(w, "| %s%s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %s; %s |\n\n",
		report.Thousands(float64(b.o.revokes)), note, report.Thousands(float64(revoked)),
		us(lat.Quantile(0.5)), us(lat.Quantile(0.9)), us(lat.Quantile(0.99)), us(lat.Max()), us(lat.Mean()),
		us(cpu.Total())/float64(b.o.revokes), dbsize, loadStart, target.LoadAvg())
	b.logf("revoke: %d revokes in %v, p50 %v p99 %v", b.o.revokes, elapsed.Round(time.Millisecond), lat.Quantile(0.5), lat.Quantile(0.99))
	if b.o.profile != "" {
		if err := b.profileRevokes(ctx, c, httpAddr); err != nil {
			return false, err
		}
	}
	return wrong == 0, nil
}

// profileRevokes profiles the server while c revokes the users the timed
// revokes left, for up to -duration, and writes revoke.pprof into the
// -profile directory.
func (b *bench) profileRevokes(ctx context.Context, c *conn, httpAddr string) error {
	if err := os.MkdirAll(b.o.profile, 0o755); err != nil {
		return err
	}
	path := filepath.Join(b.o.profile, "revoke.pprof")
	done := make(chan error, 1)
	secs := max(1, int(b.o.duration.Seconds()))
	go func() {
		done <- fetch(ctx, "http://"+httpAddr+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), path)
	}()
	end := time.Now().Add(time.Duration(secs) * time.Second)
	for u := b.o.revokes; u < b.o.revokeUsers && time.Now().Before(end); u++ {
		if _, err := c.do("SESSION.REVOKE", load.SessionUser(uint64(u))); err != nil {
			return err
		}
	}
	if err := <-done; err != nil {
		return fmt.Errorf("profile of the revokes: %w", err)
	}
	b.logf("revoke: wrote %s", path)
	return nil
}
