package persist

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestKill9DuringSnapshot: SIGKILL while a snapshot is being written loses
// nothing. A snapshot compacts the log while writes go on; a kill in the
// middle leaves an unfinished snapshot and a rotated log, and the next
// start must load the logs as if the snapshot had never begun.
func TestKill9DuringSnapshot(t *testing.T) {
	t.Run("BGSAVE", testKillDuringBgsave)
	t.Run("auto-aof-rewrite", testKillDuringAutoRewrite)
}

// testKillDuringBgsave loads 200,000 sessions of 300 bytes, keeps writing,
// sends BGSAVE and kills the server while the snapshot is being written,
// twice; then lets one snapshot finish and kills the server after
// it, so that a start loads a snapshot and the log written during and
// after it.
func testKillDuringBgsave(t *testing.T) {
	dir := t.TempDir()
	// Only BGSAVE compacts: the dataset's log is past the default 64mb.
	args := []string{"--auto-aof-rewrite-min-size", "1gb"}
	p := start(t, dir, args...)
	p.waitLoaded(t)
	b := newBulk("bulk", 200_000, 300)
	b.write(t, p.Addr)
	l := newLoad(t, "bg", 4, 200, 300, 2)

	// Where the kills land: as soon as the snapshot's file appears, then
	// 100ms after INFO shows the snapshot in progress.
	delays := []time.Duration{-1, 100 * time.Millisecond}
	mid := 0
	for round, delay := range delays {
		l.run(newClient(t, p.Addr, 4))
		time.Sleep(200 * time.Millisecond)
		saves := p.persistence(t)["rdb_saves"]
		sent := time.Now()
		if err := p.rdb.BgSave(bounded(t)).Err(); err != nil {
			t.Fatalf("BGSAVE: %v", err)
		}
		var seen bool
		if delay < 0 {
			seen = waitSnapshotFile(t, dir, 10*time.Second)
		} else if seen = p.waitSaving(t, saves); seen {
			time.Sleep(delay)
		}
		saving := seen // for the first, the file is the sign; INFO would delay the kill
		if delay >= 0 {
			saving = p.persistence(t)["rdb_bgsave_in_progress"] == "1"
		}
		killedAt := time.Now()
		p.kill9(t)
		l.wait(t)
		l.checkFailures(t, killedAt)
		// The snapshot's file is created after the log is rotated, and
		// renamed when it is complete: left behind unfinished, it says
		// the kill came while records were being written into it.
		tmps := snapshotTemps(t, dir)
		if len(tmps) > 0 {
			mid++
		}
		t.Logf("round %d: killed %v after BGSAVE (caught it in progress: %v; INFO just before the kill: %v); unfinished snapshot left: %v; files: %v",
			round, killedAt.Sub(sent).Round(time.Millisecond), seen, saving, tmps, files(t, dir))
		p = restart(t, dir, args...)
		b.verify(t, p.rdb, p.Addr)
		l.verify(t, p.rdb)
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d of %d kills landed while the snapshot was being written", mid, len(delays))
	if mid == 0 {
		t.Errorf("no kill landed while the snapshot was being written: the test checked nothing it is for (make the dataset bigger)")
	}

	// A snapshot that completes, writes during and after it, a kill.
	l.run(newClient(t, p.Addr, 4))
	saves := p.persistence(t)["rdb_saves"]
	if err := p.rdb.BgSave(bounded(t)).Err(); err != nil {
		t.Fatalf("BGSAVE: %v", err)
	}
	took := p.waitSaved(t, saves)
	t.Logf("a BGSAVE of the dataset under the write load took about %v", took.Round(time.Millisecond))
	time.Sleep(200 * time.Millisecond)
	killedAt := time.Now()
	p.kill9(t)
	l.wait(t)
	l.checkFailures(t, killedAt)
	p = restart(t, dir, args...)
	if base := p.persistence(t)["aof_base_size"]; base == "0" || base == "" {
		t.Errorf("after a completed BGSAVE, the restarted server reports aof_base_size %q: it loaded no snapshot", base)
	}
	b.verify(t, p.rdb, p.Addr)
	l.verify(t, p.rdb)
}

// testKillDuringAutoRewrite runs with --auto-aof-rewrite-min-size 1mb, so
// that the write load starts compactions by itself, and kills the server
// twice: at a random moment, then as soon as a compaction's snapshot file
// appears (a compaction of a few megabytes takes milliseconds, so a random
// kill seldom lands in one).
func testKillDuringAutoRewrite(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--auto-aof-rewrite-min-size", "1mb"}
	p := start(t, dir, args...)
	p.waitLoaded(t)
	b := newBulk("auto", 20_000, 300)
	b.write(t, p.Addr)
	l := newLoad(t, "auto", 4, 300, 1000, 3)
	mid, saves := 0, 0
	for round, targeted := range []bool{false, true} {
		l.run(newClient(t, p.Addr, 4))
		began := time.Now()
		var f map[string]string
		if targeted {
			f = p.persistence(t) // before: it would delay the kill
			waitSnapshotFile(t, dir, 5*time.Second)
		} else {
			time.Sleep(300*time.Millisecond + rand.N(1200*time.Millisecond))
			f = p.persistence(t)
		}
		n, _ := strconv.Atoi(f["rdb_saves"])
		saves += n
		killedAt := time.Now()
		p.kill9(t)
		l.wait(t)
		l.checkFailures(t, killedAt)
		tmps := snapshotTemps(t, dir)
		if len(tmps) > 0 {
			mid++
		}
		t.Logf("round %d: killed after %v of load; %d compactions had completed, one in progress at the last INFO: %s; unfinished snapshot left: %v",
			round, killedAt.Sub(began).Round(time.Millisecond), n, f["aof_rewrite_in_progress"], tmps)
		p = restart(t, dir, args...)
		b.verify(t, p.rdb, p.Addr)
		l.verify(t, p.rdb)
		if t.Failed() {
			t.FailNow()
		}
	}
	if saves == 0 {
		t.Errorf("no compaction started by itself with --auto-aof-rewrite-min-size 1mb")
	}
	t.Logf("%d compactions completed; %d of 2 kills landed while one was being written", saves, mid)
}

// waitSnapshotFile polls dir, for up to d, until an unfinished snapshot
// is in it, and reports whether one was.
func waitSnapshotFile(t *testing.T, dir string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if len(snapshotTemps(t, dir)) > 0 {
			return true
		}
	}
	return false
}

// waitSaving polls INFO persistence, as fast as it answers, until it shows
// a snapshot in progress, and reports whether it did: false if the
// snapshot was over (rdb_saves moved on from savesBefore) first.
func (p *proc) waitSaving(t *testing.T, savesBefore string) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f := p.persistence(t)
		switch {
		case f["rdb_bgsave_in_progress"] == "1":
			return true
		case f["rdb_saves"] != savesBefore:
			return false
		}
	}
	t.Fatalf("BGSAVE: no snapshot began or ended within 10s")
	return false
}

// waitSaved waits, for up to 30s, until a snapshot has completed since
// rdb_saves was savesBefore, and returns how long it waited.
func (p *proc) waitSaved(t *testing.T, savesBefore string) time.Duration {
	t.Helper()
	begin := time.Now()
	deadline := begin.Add(30 * time.Second)
	for {
		f := p.persistence(t)
		if f["rdb_saves"] != savesBefore && f["rdb_bgsave_in_progress"] == "0" {
			if f["rdb_last_bgsave_status"] != "ok" {
				t.Fatalf("BGSAVE failed: %v", f)
			}
			return time.Since(begin)
		}
		if time.Now().After(deadline) {
			t.Fatalf("BGSAVE did not complete within 30s: %v", f)
		}
		time.Sleep(time.Millisecond)
	}
}
