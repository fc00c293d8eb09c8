package persist

import (
	"strconv"
	"testing"
	"time"
)

// TestInfoPersistence: INFO persistence counts what Redis counts, the way
// dashboards built for Redis read it: changes since the last snapshot,
// reset by one; the snapshot's status, count and size; the log's status.
func TestInfoPersistence(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir())
	p.waitLoaded(t)
	f := p.persistence(t)
	for k, want := range map[string]string{
		"loading": "0", "aof_enabled": "1", "rdb_bgsave_in_progress": "0", "aof_rewrite_in_progress": "0",
		"rdb_changes_since_last_save": "0", "aof_last_write_status": "ok", "rdb_last_bgsave_status": "ok",
		"rdb_saves": "0",
	} {
		if f[k] != want {
			t.Errorf("a new server: INFO persistence %s:%s, want %s", k, f[k], want)
		}
	}
	for i := range 10 {
		if err := p.rdb.Set(bounded(t), "k"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if f := p.persistence(t); f["rdb_changes_since_last_save"] != "10" {
		t.Errorf("after 10 SETs: rdb_changes_since_last_save:%s, want 10", f["rdb_changes_since_last_save"])
	}
	before := time.Now().Unix()
	if err := p.rdb.BgSave(bounded(t)).Err(); err != nil {
		t.Fatalf("BGSAVE: %v", err)
	}
	p.waitSaved(t, "0")
	f = p.persistence(t)
	for k, want := range map[string]string{"rdb_changes_since_last_save": "0", "rdb_saves": "1", "rdb_last_bgsave_status": "ok"} {
		if f[k] != want {
			t.Errorf("after BGSAVE: INFO persistence %s:%s, want %s", k, f[k], want)
		}
	}
	if n, _ := strconv.Atoi(f["aof_base_size"]); n == 0 {
		t.Errorf("after BGSAVE: aof_base_size:%s, want the snapshot's size", f["aof_base_size"])
	}
	if at, err := p.rdb.LastSave(bounded(t)).Result(); err != nil || at < before {
		t.Errorf("LASTSAVE = %d, %v; want %d or later", at, err, before)
	}
}
