package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// The startup phase: a server's data directory holds -sessions sessions
// (sessiond: a snapshot and a log of -log-writes rewrites after it; Redis:
// an RDB written by SAVE, no AOF), and the server is started on it
// -restarts times. Ready is from just before the process is started to the
// first reply to a GET of a key stored before the snapshot that is the
// value, not LOADING: the probe polls the server's Unix socket every
// millisecond from the start. The files' sizes give the bytes on disk per
// session.

// probeKey is the key the probe reads at start-up, stored before the
// snapshot; it is a session key of connect-redis's shape.
const probeKey = "sess:persist-benchmark-start-up-probe0"

// pollEvery is how often the probe tries a server that is starting.
const pollEvery = time.Millisecond

// startupResult is what the phase measured on one server.
type startupResult struct {
	server    string
	dir       string
	keys      int64
	fill      load.Result
	file      string // the snapshot's or the RDB's name
	fileBytes int64
	rawBytes  int64 // Redis's RDB with rdbcompression no; -1 for sessiond
	logBytes  int64 // sessiond's log after the snapshot (aof_current_size); -1 for Redis
	ready     []time.Duration
	cpu       []time.Duration // the process's CPU time when it was ready
	loadNote  []string        // the server's own load time, where it says
}

func (b *bench) startupPhase(ctx context.Context, w io.Writer) (bool, error) {
	var rs []*startupResult
	defer func() {
		for _, r := range rs {
			os.RemoveAll(r.dir)
		}
	}()
	for _, name := range b.o.servers {
		r, err := b.prepareStartup(ctx, name)
		if r != nil {
			rs = append(rs, r)
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
	}
	for i := range b.o.restarts {
		order := rs
		if len(rs) == 2 && i%2 == 1 {
			order = []*startupResult{rs[1], rs[0]}
		}
		for _, r := range order {
			d, cpu, note, err := b.restart(ctx, r)
			if err != nil {
				return false, fmt.Errorf("%s: restart %d: %w", r.server, i+1, err)
			}
			b.logf("startup: %s: ready in %v, CPU %v%s", r.server, d.Round(time.Millisecond), cpu, note)
			r.ready = append(r.ready, d)
			r.cpu = append(r.cpu, cpu)
			r.loadNote = append(r.loadNote, note)
		}
	}
	return b.printStartup(w, rs), nil
}

// prepareStartup fills a fresh server, saves it, and for sessiond logs
// -log-writes more writes; it stops the server and keeps its directory.
func (b *bench) prepareStartup(ctx context.Context, name string) (*startupResult, error) {
	dir, err := b.newDir(name)
	if err != nil {
		return nil, err
	}
	r := &startupResult{server: name, dir: dir, rawBytes: -1, logBytes: -1}
	s, err := b.start(ctx, name, rdbOnly, dir)
	if err != nil {
		return r, err
	}
	defer s.Stop()
	b.logf("startup: %s: storing %d sessions", name, b.o.sessions)
	if r.fill, err = b.fill(ctx, s, b.o.sessions); err != nil {
		return r, err
	}
	value := strings.Repeat("p", b.o.value)
	if _, err := command(ctx, s, 10*time.Second, "SET", probeKey, value, "EX", "86400"); err != nil {
		return r, err
	}
	if _, err := command(ctx, s, 5*time.Minute, "SAVE"); err != nil {
		return r, err
	}
	switch name {
	case target.Sessiond:
		snaps, _ := filepath.Glob(filepath.Join(s.data, "snapshot.*"))
		if len(snaps) != 1 {
			return r, fmt.Errorf("after SAVE, %d snapshots in %s: %v", len(snaps), s.data, snaps)
		}
		r.file = filepath.Base(snaps[0])
		if r.fileBytes, err = fileSize(snaps[0]); err != nil {
			return r, err
		}
		if b.o.logWrites > 0 {
			g, err := load.Dial(ctx, load.Config{
				Network: "unix", Addr: s.Unix, Conns: b.o.conns, Pipeline: 16,
				Op: load.OpSession, ValueSize: b.o.value, MaxDuration: 5 * time.Minute,
			})
			if err != nil {
				return r, err
			}
			res, err := g.Run(ctx, 0, int64(b.o.logWrites))
			g.Close()
			if err == nil && res.Errors > 0 {
				err = fmt.Errorf("%d error replies (first: %s)", res.Errors, res.FirstError)
			}
			if err != nil {
				return r, fmt.Errorf("log writes: %w", err)
			}
		}
		m, err := infoOf(ctx, s, "persistence")
		if err != nil {
			return r, err
		}
		if r.logBytes, err = infoInt(m, "aof_current_size"); err != nil {
			return r, err
		}
	case target.Redis:
		r.file = "dump.rdb"
		if r.fileBytes, err = fileSize(filepath.Join(s.data, r.file)); err != nil {
			return r, err
		}
		// The same data without compression, for the record, then the
		// default's again: the RDB loaded at start-up is the default's.
		// (dbfilename is a protected config: it cannot be set aside.)
		for _, args := range [][]string{{"CONFIG", "SET", "rdbcompression", "no"}, {"SAVE"}} {
			if _, err := command(ctx, s, 5*time.Minute, args...); err != nil {
				return r, err
			}
		}
		if r.rawBytes, err = fileSize(filepath.Join(s.data, r.file)); err != nil {
			return r, err
		}
		for _, args := range [][]string{{"CONFIG", "SET", "rdbcompression", "yes"}, {"SAVE"}} {
			if _, err := command(ctx, s, 5*time.Minute, args...); err != nil {
				return r, err
			}
		}
		if n, err := fileSize(filepath.Join(s.data, r.file)); err != nil || n != r.fileBytes {
			return r, fmt.Errorf("the RDB saved again is %d bytes, first %d (%v)", n, r.fileBytes, err)
		}
	}
	if r.keys, err = dbsize(ctx, s); err != nil {
		return r, err
	}
	if err := s.Stop(); err != nil {
		return r, err
	}
	return r, nil
}

// restart starts r's server on its directory and returns the time until it
// answered the probe's GET and the CPU time it had used then; it checks
// every key is back and stops it.
func (b *bench) restart(ctx context.Context, r *startupResult) (d, cpu time.Duration, note string, err error) {
	// target.Start names the socket after the server, in its directory;
	// the probe needs it before Start returns, which for a server that
	// answers PING while it loads is before it is ready.
	sock := filepath.Join(r.dir, r.server+".sock")
	pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	probed := make(chan probeResult, 1)
	go func() { probed <- probe(pctx, sock, t0) }()
	s, err := b.start(ctx, r.server, rdbOnly, r.dir)
	if err != nil {
		cancel()
		<-probed
		return 0, 0, "", err
	}
	defer s.Stop()
	if s.Unix != sock {
		return 0, 0, "", fmt.Errorf("target put the socket at %s, not %s: the probe polled the wrong path", s.Unix, sock)
	}
	var p probeResult
	for waiting := true; waiting; {
		select {
		case p = <-probed:
			waiting = false
		case <-time.After(100 * time.Millisecond):
			if !s.Alive() {
				cancel()
				<-probed
				return 0, 0, "", fmt.Errorf("the server exited: %v\n%s", s.ExitErr(), s.LogTail(10))
			}
		}
	}
	// Read at once: sessiond's target.Start returns before it has loaded,
	// Redis's after (it answers PING with LOADING meanwhile).
	cpu, err = treeCPU(s.Pid())
	if p.err != nil {
		return 0, 0, "", fmt.Errorf("probe: %w\n%s", p.err, s.LogTail(10))
	}
	if err != nil {
		return 0, 0, "", err
	}
	keys, err := dbsize(ctx, s)
	if err != nil {
		return 0, 0, "", err
	}
	if keys != r.keys {
		return 0, 0, "", fmt.Errorf("%d keys after the restart, %d before", keys, r.keys)
	}
	// What the server says its load took, to tell its own time from the
	// process's start-up around it.
	switch r.server {
	case target.Sessiond:
		if m, err := infoOf(ctx, s, "persistence"); err == nil {
			note = fmt.Sprintf(" (its own sessiond_load_time_ms %s)", m["sessiond_load_time_ms"])
		}
	case target.Redis:
		for _, line := range strings.Split(s.LogTail(40), "\n") {
			if _, after, ok := strings.Cut(line, "DB loaded from disk: "); ok {
				note = " (its log: loaded in " + after + ")"
			}
		}
	}
	return p.d, cpu, note, s.Stop()
}

type probeResult struct {
	d   time.Duration
	err error
}

// probe polls GET probeKey on the socket until the value comes back and
// returns the time since t0.
func probe(ctx context.Context, sock string, t0 time.Time) probeResult {
	var last error
	for ctx.Err() == nil {
		c, err := dial(ctx, "unix", sock)
		if err != nil {
			last = err
			sleep(ctx, pollEvery)
			continue
		}
		for ctx.Err() == nil {
			_, ok, err := c.do(30*time.Second, "GET", probeKey)
			if err == nil && ok {
				d := time.Since(t0)
				c.Close()
				return probeResult{d: d}
			}
			if err == nil {
				c.Close()
				return probeResult{err: fmt.Errorf("GET %s: no such key after the restart", probeKey)}
			}
			last = err
			if !isLoading(err) {
				break
			}
			sleep(ctx, pollEvery)
		}
		c.Close()
	}
	return probeResult{err: fmt.Errorf("not ready: %w (last: %v)", ctx.Err(), last)}
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
