package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
	"github.com/sessiond/sessiond/bench/loadgen/load"
	"github.com/sessiond/sessiond/bench/report"
)

// memRun is one server's memory measurement.
type memRun struct {
	users      int // 0: a user per session
	index      string
	round      int
	rssStart   int64
	rssEnd     int64
	keys       int64
	usedMemory int64 // INFO memory: the store's accounting
	records    int64 // sessiond_record_bytes
	heap       int64 // sessiond_go_heap_inuse
	// rssPurged and heapPurged are read again after MEMORY PURGE (a
	// garbage collection that returns free memory to the kernel): what
	// the index holds live, without the Go heap's headroom.
	rssPurged, heapPurged int64
	load                  load.Result
	loadAvg               string
}

// memory sets the sessions on a fresh server for each case and index, and
// prints what they cost. It reports false if any run had error replies.
func (b *bench) memory(ctx context.Context, w io.Writer) (bool, error) {
	var runs []*memRun
	valid := true
	for round := range b.o.memRounds {
		for i, users := range []int{b.o.memUsers, 0} {
			order := []string{on, off}
			if (round+i)%2 == 1 {
				order = []string{off, on}
			}
			for _, index := range order {
				r, err := b.memoryOne(ctx, users, index)
				if err != nil {
					return false, fmt.Errorf("index %s, %d users: %w", index, users, err)
				}
				r.round = round + 1
				valid = valid && r.load.Errors == 0
				runs = append(runs, r)
			}
		}
	}
	b.printMemory(w, runs)
	return valid, nil
}

func (b *bench) memoryOne(ctx context.Context, users int, index string) (*memRun, error) {
	s, err := b.start(ctx, index)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	r := &memRun{users: users, index: index}
	if r.rssStart, err = s.RSS(); err != nil {
		return nil, err
	}
	g, err := load.Dial(ctx, load.Config{
		Network: "unix", Addr: s.Unix, Conns: b.o.conns, Pipeline: 16,
		Op: load.OpSession, ValueSize: b.o.value, Users: users,
	})
	if err != nil {
		return nil, err
	}
	b.logf("memory: index %s: setting %d sessions of %d users", index, b.o.sessions, users)
	r.load, err = g.Run(ctx, 0, int64(b.o.sessions))
	g.Close()
	if err != nil {
		return nil, err
	}
	// Let background work finish (Go's scavenger) so that every server
	// is measured at rest.
	select {
	case <-time.After(b.o.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.rssEnd, err = s.RSS(); err != nil {
		return nil, err
	}
	r.loadAvg = target.LoadAvg()
	c, err := dialUnix(ctx, s.Unix)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	dbsize, err := c.do("DBSIZE")
	if err != nil {
		return nil, err
	}
	if r.keys, err = strconv.ParseInt(dbsize, 10, 64); err != nil {
		return nil, fmt.Errorf("DBSIZE: %q", dbsize)
	}
	info, err := c.do("INFO", "memory")
	if err != nil {
		return nil, err
	}
	r.usedMemory = infoInt(info, "used_memory")
	r.records = infoInt(info, "sessiond_record_bytes")
	r.heap = infoInt(info, "sessiond_go_heap_inuse")
	if _, err := c.do("MEMORY", "PURGE"); err != nil {
		return nil, err
	}
	if r.rssPurged, err = s.RSS(); err != nil {
		return nil, err
	}
	if info, err = c.do("INFO", "memory"); err != nil {
		return nil, err
	}
	r.heapPurged = infoInt(info, "sessiond_go_heap_inuse")
	b.logf("memory: index %s, %d users: rss %d -> %d bytes, %d keys, %d errors, load %s",
		index, users, r.rssStart, r.rssEnd, r.keys, r.load.Errors, r.loadAvg)
	return r, nil
}

// printMemory writes a row for each run and, for each case and round, the
// index's cost: on minus off.
func (b *bench) printMemory(w io.Writer, runs []*memRun) {
	n := float64(b.o.sessions)
	per := func(v int64) float64 { return float64(v) / n }
	usersName := func(users int) string {
		if users == 0 {
			return report.Thousands(n) + " (one each)"
		}
		return report.Thousands(float64(users))
	}
	fmt.Fprintf(w, "### Memory of the index\n\n")
	fmt.Fprintf(w, "%s sessions set over the Unix socket on a fresh server as connect-redis does (`SET sess:<32 hex> <%d-byte JSON> EX 86400`, %d connections at pipeline 16), of %s users (session k belongs to user k mod %d), then of one user each; the index on (default) and off (`--user-field=`). VmRSS from /proc/PID/status at start and %v after the last reply; the store's accounting (INFO memory's used_memory, sessiond_record_bytes) and the Go heap in use (sessiond_go_heap_inuse) then; then both again after MEMORY PURGE (a garbage collection, free memory returned to the kernel), which shows what is held live.\n\n",
		report.Thousands(n), b.o.value, b.o.conns, report.Thousands(float64(b.o.memUsers)), b.o.memUsers, b.o.settle)
	fmt.Fprintln(w, "| users | index | keys | RSS growth bytes/session | total RSS bytes/session | used_memory /session | record bytes /session | Go heap in use /session | after MEMORY PURGE: total RSS, Go heap /session | load average |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range runs {
		note := invalid(r.load.Errors, "error replies", r.load.FirstError)
		fmt.Fprintf(w, "| %s | %s%s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f, %.1f | %s |\n",
			usersName(r.users), r.index, note, report.Thousands(float64(r.keys)), per(r.rssEnd-r.rssStart), per(r.rssEnd),
			per(r.usedMemory), per(r.records), per(r.heap), per(r.rssPurged), per(r.heapPurged), r.loadAvg)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The index's cost, on − off, bytes per session:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| users | round | RSS growth | total RSS | used_memory | record bytes | Go heap in use | after MEMORY PURGE: total RSS, Go heap |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, a := range runs {
		if a.index != on {
			continue
		}
		for _, z := range runs {
			if z.index == off && z.users == a.users && z.round == a.round {
				fmt.Fprintf(w, "| %s | %d | **%.1f** | %.1f | %.1f | %.1f | %.1f | %.1f, %.1f |\n", usersName(a.users), a.round,
					per(a.rssEnd-a.rssStart)-per(z.rssEnd-z.rssStart), per(a.rssEnd)-per(z.rssEnd),
					per(a.usedMemory)-per(z.usedMemory), per(a.records)-per(z.records), per(a.heap)-per(z.heap),
					per(a.rssPurged)-per(z.rssPurged), per(a.heapPurged)-per(z.heapPurged))
			}
		}
	}
	fmt.Fprintln(w)
}
