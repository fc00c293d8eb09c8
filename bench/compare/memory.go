package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sessiond/sessiond/bench/loadgen/load"
)

// memResult is one server's memory measurement.
type memResult struct {
	server     string
	rssStart   int64
	rssEnd     int64
	keys       int64 // DBSIZE after the load, -1 if not answered
	load       load.Result
	cpu        time.Duration
	dbsizeNote string
}

// memory sets o.sessions sessions on a fresh instance of each server and
// prints the RSS they cost. The servers run one after the other, so that
// neither holds memory while the other is measured.
func (b *bench) memory(ctx context.Context, w io.Writer) (bool, error) {
	var rs []memResult
	valid := true
	for _, name := range b.o.servers {
		r, err := b.memoryOne(ctx, name)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		valid = valid && r.load.Errors == 0
		rs = append(rs, r)
	}
	b.printMemory(w, rs)
	return valid, nil
}

func (b *bench) memoryOne(ctx context.Context, name string) (memResult, error) {
	s, err := b.start(ctx, name)
	if err != nil {
		return memResult{}, err
	}
	defer s.Stop()
	r := memResult{server: name}
	if r.rssStart, err = s.RSS(); err != nil {
		return r, err
	}
	cpu0, err := s.CPU()
	if err != nil {
		return r, err
	}
	g, err := load.Dial(ctx, load.Config{
		Network: "unix", Addr: s.Unix, Conns: b.o.conns, Pipeline: 16,
		Op: load.OpSession, ValueSize: b.o.value,
	})
	if err != nil {
		return r, err
	}
	b.logf("memory: %s: setting %d sessions", name, b.o.sessions)
	r.load, err = g.Run(ctx, 0, int64(b.o.sessions))
	g.Close()
	if err != nil {
		return r, err
	}
	cpu1, err := s.CPU()
	if err != nil {
		return r, err
	}
	r.cpu = cpu1 - cpu0
	// Let background work finish (Go's scavenger, Redis's lazy frees)
	// so both are measured at rest.
	select {
	case <-time.After(b.o.settle):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	if r.rssEnd, err = s.RSS(); err != nil {
		return r, err
	}
	r.keys = -1
	rep, err := load.Do(ctx, "unix", s.Unix, "DBSIZE")
	switch {
	case err != nil:
		r.dbsizeNote = err.Error()
	case rep.Kind != ':':
		r.dbsizeNote = fmt.Sprintf("DBSIZE answered %q %s", rep.Kind, rep.Err)
	default:
		r.keys = rep.Int
	}
	b.logf("memory: %s: rss %d -> %d bytes, %d keys, %d errors", name, r.rssStart, r.rssEnd, r.keys, r.load.Errors)
	return r, nil
}
