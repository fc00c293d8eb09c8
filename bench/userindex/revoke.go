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
// after another over one connection, against DEL of their keys, and prints
// the table. It reports false if a command deleted another number of
// sessions.
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
	b.logf("revoke: setting %d sessions of %d users", total, b.o.revokeUsers)
	if _, err := load.RunOnce(ctx, load.Config{
		Network: "unix", Addr: s.Unix, Conns: b.o.conns, Pipeline: 16,
		Op: load.OpSession, ValueSize: b.o.value, Users: b.o.revokeUsers,
	}, int64(total)); err != nil {
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
	// Users alternate: SESSION.REVOKE of one, then DEL of the next one's
	// keys, which the client knows: the deletes alone, the store in the
	// same state, to tell the index's part of a revoke from theirs.
	kinds := []*timedOp{{name: "SESSION.REVOKE user"}, {name: fmt.Sprintf("DEL of the user's %d keys", b.o.perUser)}}
	keys := make([]string, 0, b.o.perUser+1)
	for i := range 2 * b.o.revokes {
		u := uint64(i)
		args := []string{"SESSION.REVOKE", load.SessionUser(u)}
		if i%2 == 1 {
			keys = append(keys[:0], "DEL")
			for j := range uint64(b.o.perUser) {
				keys = append(keys, load.SessionKey(u+j*uint64(b.o.revokeUsers)))
			}
			args = keys
		}
		if err := kinds[i%2].do(s, c, args, b.o.perUser); err != nil {
			return false, fmt.Errorf("user %d: %w", u, err)
		}
	}
	dbsize, err := c.do("DBSIZE")
	if err != nil {
		return false, err
	}

	fmt.Fprintf(w, "### Revoking a user over the protocol\n\n")
	fmt.Fprintf(w, "A fresh server, the index on, holds %s sessions (%d-byte express-session JSON, set as connect-redis does) of %s users, %d each (session k belongs to user k mod %d, so a user's sessions lie all over the store). One client on the Unix socket sends, user after user, `SESSION.REVOKE <user>` for one and `DEL` of the %d keys of the next (what the deletes alone cost, the store in the same state), %s of each, each round trip timed (the next sent when the last is answered). Server CPU is utime+stime from /proc/PID/stat read around each command (clock tick %v), summed.\n\n",
		report.Thousands(float64(total)), b.o.value, report.Thousands(float64(b.o.revokeUsers)), b.o.perUser, b.o.revokeUsers,
		b.o.perUser, report.Thousands(float64(b.o.revokes)), target.ClockTick())
	fmt.Fprintln(w, "| command | commands | sessions deleted | p50 µs | p90 µs | p99 µs | max µs | mean µs | server CPU µs/command |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	valid := true
	for _, k := range kinds {
		note := invalid(int64(k.wrong), "answered another count", k.firstWrong)
		valid = valid && note == ""
		fmt.Fprintf(w, "| %s%s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
			k.name, note, report.Thousands(float64(k.lat.Count())), report.Thousands(float64(k.deleted)),
			us(k.lat.Quantile(0.5)), us(k.lat.Quantile(0.9)), us(k.lat.Quantile(0.99)), us(k.lat.Max()), us(k.lat.Mean()),
			us(k.cpu.Total())/float64(max(k.lat.Count(), 1)))
	}
	fmt.Fprintf(w, "\nKeys left (DBSIZE): %s. Load average before: %s; after: %s.\n\n", dbsize, loadStart, target.LoadAvg())
	b.logf("revoke: p50 %v p99 %v; del p50 %v p99 %v", kinds[0].lat.Quantile(0.5), kinds[0].lat.Quantile(0.99), kinds[1].lat.Quantile(0.5), kinds[1].lat.Quantile(0.99))
	if b.o.profile != "" {
		if err := b.profileRevokes(ctx, c, httpAddr); err != nil {
			return false, err
		}
	}
	return valid, nil
}

// timedOp is what one kind of command measured.
type timedOp struct {
	name       string
	lat        load.Histogram
	cpu        target.CPUTime
	deleted    int
	wrong      int
	firstWrong string
}

// do sends one command on c, timed, with s's CPU read around it, and
// checks that it deleted want sessions.
func (t *timedOp) do(s *target.Server, c *conn, args []string, want int) error {
	cpu0, err := s.CPUTime()
	if err != nil {
		return err
	}
	t0 := time.Now()
	text, err := c.do(args...)
	t.lat.Record(time.Since(t0))
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	cpu1, err := s.CPUTime()
	if err != nil {
		return err
	}
	t.cpu = t.cpu.Add(cpu1.Sub(cpu0))
	if n, err := strconv.Atoi(text); err != nil || n != want {
		t.wrong++
		if t.firstWrong == "" {
			t.firstWrong = fmt.Sprintf("%s %s: %q", args[0], args[1], text)
		}
		return nil
	}
	t.deleted += want
	return nil
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
	for u := 2 * b.o.revokes; u < b.o.revokeUsers && time.Now().Before(end); u++ {
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
