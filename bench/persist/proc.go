package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/bench/compare/target"
)

// What /proc says of a process and the children it forks. target reads a
// process's own utime and stime and its VmRSS; a Redis snapshot runs in a
// forked child, so the snapshot phase also needs the children's CPU (the
// cutime and cstime a parent collects when it reaps one) and a memory
// figure that counts a page shared by parent and child once, and leaves
// out the page cache sessiond's mapped log shows in VmRSS.

// treeCPU returns a process's CPU time with that of the children it has
// reaped: utime+stime+cutime+cstime, fields 14 to 17 of /proc/PID/stat.
func treeCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseTreeCPU(b, target.ClockTick())
}

func parseTreeCPU(stat []byte, tick time.Duration) (time.Duration, error) {
	f, err := statFields(stat)
	if err != nil {
		return 0, err
	}
	// f[0] is field 3 (state), so utime (14) is f[11] and cstime (17) f[14].
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc stat: %d fields", len(f)+2)
	}
	var sum uint64
	for _, s := range f[11:15] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		sum += n
	}
	return time.Duration(sum) * tick, nil
}

// statFields returns the fields of a /proc/PID/stat line after the command
// name, which may hold spaces and parentheses: field 3 on.
func statFields(stat []byte) ([]string, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc stat %q: no command name", stat)
	}
	return strings.Fields(string(stat[i+1:])), nil
}

// children returns the pids of a process's children (Redis's BGSAVE
// child), by their parent pid in /proc/*/stat: this kernel may not have
// /proc/PID/task/TID/children.
func children(pid int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		f, err := statFields(b)
		if err != nil || len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == pid {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// anonRSS returns a process's resident anonymous memory (RssAnon of
// /proc/PID/status), in bytes: unlike VmRSS it leaves out the page cache of
// mapped files, as sessiond maps its log.
func anonRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return kbField(b, "RssAnon:")
}

// privateDirty returns the memory a process has written that no other
// process maps (Private_Dirty of /proc/PID/smaps_rollup), in bytes: for a
// forked child, the pages it holds alone because its parent wrote to them
// since the fork, its copy-on-write, as Redis counts it (rdb_last_cow_size).
func privateDirty(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	return kbField(b, "Private_Dirty:")
}

// kbField returns the "NNN kB" value of a /proc file's field, in bytes.
func kbField(text []byte, field string) (int64, error) {
	for _, line := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", field, rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc", field)
}

// treeAnon returns the anonymous memory of a process and its children,
// each page counted once: the process's RssAnon plus each child's
// Private_Dirty. (Summing Pss_Anon instead counts a fork's shared pages
// up to one and a half times while the fork copies the page tables, since
// parent and child are read one after the other.) A child that ends
// meanwhile counts as nothing.
func treeAnon(pid int) (int64, error) {
	total, err := anonRSS(pid)
	if err != nil {
		return 0, err
	}
	for _, c := range children(pid) {
		if n, err := privateDirty(c); err == nil {
			total += n
		}
	}
	return total, nil
}
