package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessiond/sessiond/bench/compare/target"
)

// Persistence modes a server is started in.
const (
	memOnly  = "none"     // no persistence: sessiond without --dir, Redis appendonly no
	everysec = "everysec" // the log, fsync once a second
	always   = "always"   // the log, a write waits for the fsync covering it
	rdbOnly  = "rdb"      // Redis: no AOF, an RDB by SAVE or BGSAVE only; sessiond: everysec
)

// noRewrite is a sessiond --auto-aof-rewrite-min-size that no run reaches.
const noRewrite = "1000gb"

// server is a running server with a directory of its own: the socket, its
// output and, under data/, its data directory.
type server struct {
	*target.Server
	dir  string
	data string
}

// newDir makes a server directory under the bench's temporary directory,
// with its data directory.
func (b *bench) newDir(name string) (string, error) {
	dir, err := os.MkdirTemp(b.root, name+"-")
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// start starts server name in persistence mode in dir (from newDir),
// whose data directory may hold what an earlier server left.
func (b *bench) start(ctx context.Context, name, mode, dir string) (*server, error) {
	data := filepath.Join(dir, "data")
	cfg := target.Config{Name: name, Dir: dir, Args: b.args(name, mode, data)}
	switch name {
	case target.Sessiond:
		cfg.Binary = b.sdBin
	case target.Redis:
		cfg.Binary = b.redisBin
	default:
		return nil, fmt.Errorf("unknown server %q", name)
	}
	s, err := target.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &server{Server: s, dir: dir, data: data}, nil
}

// startFresh starts server name in mode in a new directory, removed by
// stopRemove.
func (b *bench) startFresh(ctx context.Context, name, mode string) (*server, error) {
	dir, err := b.newDir(name)
	if err != nil {
		return nil, err
	}
	s, err := b.start(ctx, name, mode, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// stopRemove stops the server and removes its directory.
func (s *server) stopRemove() error {
	err := s.Stop()
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}

// args returns the command-line arguments of server name in mode, its
// data directory data. target's own come first, so these win where both
// set one (Redis's --save, --appendonly, --dir).
func (b *bench) args(name, mode, data string) []string {
	if name == target.Sessiond {
		var a []string
		switch mode {
		case memOnly:
		case rdbOnly:
			mode = everysec
			fallthrough
		default:
			a = []string{"--dir", data, "--appendfsync", mode}
			if !b.o.rewrites {
				a = append(a, "--auto-aof-rewrite-min-size", noRewrite)
			}
		}
		return append(a, b.o.sdArgs...)
	}
	switch mode {
	case memOnly:
		return nil // target's defaults: --save "" --appendonly no
	case rdbOnly:
		return []string{"--appendonly", "no", "--save", "", "--dir", data, "--dbfilename", "dump.rdb"}
	}
	a := []string{"--appendonly", "yes", "--appendfsync", mode, "--save", "", "--dir", data}
	if !b.o.rewrites {
		a = append(a, "--auto-aof-rewrite-percentage", "0")
	}
	return a
}
