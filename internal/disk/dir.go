package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Dir is a data directory, locked by this process.
type Dir struct {
	path string
	lock *os.File
}

// LockedError is returned by OpenDir when another process holds the
// directory.
type LockedError struct {
	Dir string
	PID int // 0 if the lock file did not say
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("data directory %s is in use by another process", e.Dir)
	}
	return fmt.Sprintf("data directory %s is in use by process %d", e.Dir, e.PID)
}

// OpenDir creates the directory at path if it is missing and locks it. The
// lock is an flock on path/LOCK, held until Close or the process ends, so
// a process killed with SIGKILL leaves no stale lock behind. A directory
// another process holds returns a *LockedError.
func OpenDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("disk: data directory: %w", err)
	}
	name := filepath.Join(path, "LOCK")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("disk: data directory: %w", err)
	}
	if held, err := lockFile(f); err != nil || held {
		var pid int
		if b, rerr := os.ReadFile(name); rerr == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		f.Close()
		if held {
			return nil, &LockedError{Dir: path, PID: pid}
		}
		return nil, fmt.Errorf("disk: locking %s: %w", name, err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("disk: writing %s: %w", name, err)
	}
	return &Dir{path: path, lock: f}, nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Close releases the lock.
func (d *Dir) Close() error { return d.lock.Close() }

// LogPath returns the path of log generation gen.
func (d *Dir) LogPath(gen uint64) string { return filepath.Join(d.path, fmt.Sprintf("log.%06d", gen)) }

// SnapshotPath returns the path of snapshot generation gen.
func (d *Dir) SnapshotPath(gen uint64) string {
	return filepath.Join(d.path, fmt.Sprintf("snapshot.%06d", gen))
}

// Files lists a directory's logs and snapshots by generation, in order.
type Files struct {
	Snapshots []uint64
	Logs      []uint64
	Temp      []string // unfinished files, to remove
}

// List returns the directory's files. Names it does not know are left
// alone.
func (d *Dir) List() (Files, error) {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return Files{}, err
	}
	var fs Files
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			fs.Temp = append(fs.Temp, filepath.Join(d.path, name))
			continue
		}
		kind, num, ok := strings.Cut(name, ".")
		if !ok {
			continue
		}
		gen, err := strconv.ParseUint(num, 10, 64)
		if err != nil || gen == 0 {
			continue
		}
		switch kind {
		case "log":
			fs.Logs = append(fs.Logs, gen)
		case "snapshot":
			fs.Snapshots = append(fs.Snapshots, gen)
		}
	}
	slices.Sort(fs.Logs)
	slices.Sort(fs.Snapshots)
	return fs, nil
}

// Sync syncs the directory itself, so that files created, renamed or
// removed in it stay so after a crash of the machine.
func (d *Dir) Sync() error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
