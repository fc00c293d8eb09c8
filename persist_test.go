package sessiond

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/disk"
	"github.com/sessiond/sessiond/internal/testkit"
)

// openDir opens a store on dir with o (a copy), failing the test on error.
func openDir(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	o.Dir = dir
	st, err := Open(&o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustGet(t testing.TB, st *Store, key, want string) {
	t.Helper()
	v, found, err := st.Get(key)
	if err != nil || !found || string(v) != want {
		t.Fatalf("Get(%q) = %q, %v, %v; want %q", key, v, found, err, want)
	}
}

func mustMiss(t testing.TB, st *Store, key string) {
	t.Helper()
	v, found, err := st.Get(key)
	if err != nil || found {
		t.Fatalf("Get(%q) = %q, %v, %v; want nothing", key, v, found, err)
	}
}

func TestPersistRestart(t *testing.T) {
	for _, tomb := range []bool{false, true} {
		t.Run(fmt.Sprintf("tombstones=%v", tomb), func(t *testing.T) {
			dir := t.TempDir()
			clk := new(testkit.FakeClock)
			o := Options{Now: clk.Now, Tombstones: tomb, ReapInterval: time.Hour}
			st := openDir(t, dir, o)
			for i := range 100 {
				if err := st.Set(fmt.Sprintf("k%d", i), []byte(fmt.Sprintf("v%d", i)), time.Duration(i+1)*time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			st.Set("forever", []byte("x"), 0)
			st.Write("flags", []byte("f"), WriteOptions{Flags: 7})
			st.Delete("k0")
			st.Touch("k1", time.Hour)
			st.Set("k2", []byte("short"), time.Second)
			st.Set("gone", []byte("x"), 0)
			st.Delete("gone")
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			clk.Advance(30 * time.Second) // k2 expires while the store is down

			for round := range 2 {
				st = openDir(t, dir, o)
				mustMiss(t, st, "k0")
				mustMiss(t, st, "k2")
				mustMiss(t, st, "gone")
				mustGet(t, st, "forever", "x")
				mustGet(t, st, "k50", "v50")
				if ttl, _, _ := st.TTL("k1"); ttl != time.Hour-30*time.Second {
					t.Errorf("round %d: TTL(k1) = %v", round, ttl)
				}
				if ttl, _, _ := st.TTL("k50"); ttl != 51*time.Minute-30*time.Second {
					t.Errorf("round %d: TTL(k50) = %v", round, ttl)
				}
				if _, it, found, _ := st.Lookup(nil, "flags"); !found || it.Flags != 7 {
					t.Errorf("round %d: flags lost: %+v", round, it)
				}
				if n, _ := st.Len(); n != 100 { // 100 + forever + flags - k0 - k2
					t.Errorf("round %d: Len = %d, want 100", round, n)
				}
				mustCheck(t, st)
				if round == 0 {
					if err := st.Save(); err != nil {
						t.Fatal(err)
					}
				}
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPersistModel drives a store with random changes, saving now and then
// and closing and opening it again, and checks that every restart finds
// exactly what a map says.
func TestPersistModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	dir := t.TempDir()
	clk := new(testkit.FakeClock)
	o := Options{Shards: 4, Now: clk.Now, ReapInterval: time.Hour, CompactMinSize: 4 << 10}
	st := openDir(t, dir, o)
	defer func() { st.Close() }()
	model := map[string]modelRec{}
	check := func(when string) {
		t.Helper()
		now := clk.Now().UnixMilli()
		for k, m := range model {
			if m.exp != 0 && m.exp <= now {
				delete(model, k)
				continue
			}
			v, found, err := st.Get(k)
			if err != nil || !found || !bytes.Equal(v, m.val) {
				t.Fatalf("%s: Get(%q) = %d bytes, %v, %v; want %d bytes", when, k, len(v), found, err, len(m.val))
			}
			if e := expiryOf(t, st, k); e != m.exp {
				t.Fatalf("%s: expiry of %q = %d, want %d", when, k, e, m.exp)
			}
		}
		cursor := uint64(0)
		for {
			keys, next, err := st.Scan(cursor, "*", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if _, ok := model[k]; !ok {
					if _, found, _ := st.Get(k); found {
						t.Fatalf("%s: %q is back", when, k)
					}
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	for step := range 4000 {
		k := fmt.Sprintf("key%d", r.IntN(300))
		switch op := r.IntN(100); {
		case op < 50:
			v := bytes.Repeat([]byte{byte(step)}, r.IntN(300))
			var ttl time.Duration
			if r.IntN(2) == 0 {
				ttl = time.Duration(1+r.IntN(60)) * time.Second
			}
			if err := st.Set(k, v, ttl); err != nil {
				t.Fatal(err)
			}
			m := modelRec{val: v}
			if ttl > 0 {
				m.exp = clk.Now().UnixMilli() + ttl.Milliseconds()
			}
			model[k] = m
		case op < 70:
			st.Delete(k)
			delete(model, k)
		case op < 80:
			if m, ok := model[k]; ok && (m.exp == 0 || m.exp > clk.Now().UnixMilli()) {
				st.Touch(k, 90*time.Second)
				m.exp = clk.Now().UnixMilli() + 90_000
				model[k] = m
			}
		case op < 85:
			clk.Advance(time.Duration(r.IntN(5000)) * time.Millisecond)
		case op < 86:
			if err := st.Clear(); err != nil {
				t.Fatal(err)
			}
			clear(model)
		case op < 88:
			if err := st.Save(); err != nil && err != ErrSaveInProgress {
				t.Fatal(err)
			}
		case op < 91:
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st = openDir(t, dir, o)
			check(fmt.Sprintf("step %d, after a restart", step))
			mustCheck(t, st)
		}
	}
	st.Close()
	st = openDir(t, dir, o)
	check("at the end")
}

func TestPersistEvictedStayGone(t *testing.T) {
	dir := t.TempDir()
	o := Options{Shards: 1, MaxMemory: 1 << 20, Policy: AllKeysLRU}
	st := openDir(t, dir, o)
	val := bytes.Repeat([]byte("x"), 1000)
	for i := range 3000 {
		if err := st.Set(fmt.Sprintf("k%d", i), val, 0); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := st.Len()
	if ev := st.Stats().Evictions; ev == 0 {
		t.Fatal("nothing was evicted: the test needs a smaller MaxMemory")
	}
	st.Close()
	st = openDir(t, dir, o)
	defer st.Close()
	if after, _ := st.Len(); after != before {
		t.Fatalf("%d keys before the restart, %d after: evicted sessions came back", before, after)
	}
}

func TestPersistClockAboveLoaded(t *testing.T) {
	dir := t.TempDir()
	clk := new(testkit.FakeClock)
	st := openDir(t, dir, Options{Now: clk.Now})
	st.Set("k", []byte("old"), 0)
	_, it, _, _ := st.Lookup(nil, "k")
	st.Close()
	clk.Advance(-time.Hour) // the wall clock went back across the restart
	st = openDir(t, dir, Options{Now: clk.Now})
	defer st.Close()
	st.Set("k", []byte("new"), 0)
	_, it2, _, _ := st.Lookup(nil, "k")
	if it2.Version.Compare(it.Version) <= 0 {
		t.Fatalf("version after restart %v is not above %v", it2.Version, it.Version)
	}
	st.Close()
	st = openDir(t, dir, Options{Now: clk.Now})
	mustGet(t, st, "k", "new")
}

func TestPersistLocked(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Options{})
	defer st.Close()
	_, err := Open(&Options{Dir: dir})
	var le *disk.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open: %v; want a LockedError naming %s and pid %d", err, dir, os.Getpid())
	}
}

// logWith writes the given sessions to a fresh store on dir and closes it,
// returning the path of its log.
func logWith(t *testing.T, dir string, n int) string {
	t.Helper()
	st := openDir(t, dir, Options{})
	for i := range n {
		if err := st.Set(fmt.Sprintf("key%03d", i), []byte(fmt.Sprintf("value%03d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "log.000001")
}

// TestPersistTornTail cuts the log at every offset of its last entries, and
// appends random bytes to it: each time the store opens with every entry
// before the cut, and cuts the tail.
func TestPersistTornTail(t *testing.T) {
	src := t.TempDir()
	path := logWith(t, src, 20)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ends []int // where each entry ends
	if _, err := disk.ScanLog(path, whole, 1<<20, nil, func(off int64, body []byte) error {
		ends = append(ends, int(off)+disk.FrameHeader+len(body))
		return nil
	}); err != nil || len(ends) != 20 {
		t.Fatalf("scanning the log: %d entries, %v", len(ends), err)
	}
	for cut := ends[16]; cut <= len(whole); cut++ {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "log.000001"), whole[:cut], 0o600)
		st := openDir(t, dir, Options{})
		n, _ := st.Len()
		want := 0
		for want < len(ends) && ends[want] <= cut {
			want++
		}
		if n != want {
			t.Fatalf("cut at %d of %d: %d keys, want %d", cut, len(whole), n, want)
		}
		for i := range n {
			mustGet(t, st, fmt.Sprintf("key%03d", i), fmt.Sprintf("value%03d", i))
		}
		st.Close()
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 50 {
		dir := t.TempDir()
		junk := make([]byte, 1+r.IntN(2000))
		for i := range junk {
			junk[i] = byte(r.Uint32())
		}
		os.WriteFile(filepath.Join(dir, "log.000001"), append(append([]byte{}, whole...), junk...), 0o600)
		st := openDir(t, dir, Options{})
		if n, _ := st.Len(); n != 20 {
			t.Fatalf("random tail of %d bytes: %d keys, want 20", len(junk), n)
		}
		st.Close()
		// The tail was cut: the file holds the entries, then the next
		// start's own log.
		if b, _ := os.ReadFile(filepath.Join(dir, "log.000001")); !bytes.Equal(b, whole) {
			t.Fatalf("random tail of %d bytes: the log is %d bytes, want %d", len(junk), len(b), len(whole))
		}
	}
}

// TestPersistDamage flips a byte in the middle of a log: the store refuses
// to open, naming the file and offset, and changes nothing; with Repair it
// loads what comes before, keeping a copy of what it cut.
func TestPersistDamage(t *testing.T) {
	dir := t.TempDir()
	path := logWith(t, dir, 20)
	whole, _ := os.ReadFile(path)
	bad := append([]byte{}, whole...)
	mid := len(bad) / 2
	bad[mid] ^= 0x40
	os.WriteFile(path, bad, 0o600)
	_, err := Open(&Options{Dir: dir})
	var de *disk.DamageError
	if !errors.As(err, &de) || de.File != path || de.Offset > int64(mid) || de.Offset < int64(mid)-100 {
		t.Fatalf("Open of a damaged log: %v; want a DamageError naming %s near offset %d", err, path, mid)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, bad) {
		t.Fatal("the failed start changed the damaged log")
	}
	st := openDir(t, dir, Options{Repair: true})
	n, _ := st.Len()
	if n < 8 || n >= 20 {
		t.Fatalf("repaired: %d keys", n)
	}
	for i := range n {
		mustGet(t, st, fmt.Sprintf("key%03d", i), fmt.Sprintf("value%03d", i))
	}
	st.Close()
	cut, err := os.ReadFile(fmt.Sprintf("%s.cut-%d", path, de.Offset))
	if err != nil || !bytes.Equal(cut, bad[de.Offset:]) {
		t.Fatalf("the copy of what was cut: %d bytes, %v; want %d", len(cut), err, len(bad)-int(de.Offset))
	}
}

func TestPersistSnapshotDamage(t *testing.T) {
	mk := func(t *testing.T) (dir, snap string) {
		dir = t.TempDir()
		st := openDir(t, dir, Options{})
		for i := range 50 {
			st.Set(fmt.Sprintf("key%03d", i), []byte("v"), 0)
		}
		if err := st.Save(); err != nil {
			t.Fatal(err)
		}
		st.Set("after", []byte("v"), 0)
		st.Close()
		return dir, filepath.Join(dir, "snapshot.000002")
	}
	t.Run("truncated", func(t *testing.T) {
		dir, snap := mk(t)
		b, _ := os.ReadFile(snap)
		os.WriteFile(snap, b[:len(b)-5], 0o600)
		_, err := Open(&Options{Dir: dir})
		var de *disk.DamageError
		if !errors.As(err, &de) || de.File != snap {
			t.Fatalf("Open: %v; want a DamageError naming %s", err, snap)
		}
	})
	t.Run("flipped byte", func(t *testing.T) {
		dir, snap := mk(t)
		b, _ := os.ReadFile(snap)
		b[len(b)/2] ^= 1
		os.WriteFile(snap, b, 0o600)
		if _, err := Open(&Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), snap) {
			t.Fatalf("Open: %v; want an error naming %s", err, snap)
		}
		st := openDir(t, dir, Options{Repair: true})
		defer st.Close()
		mustGet(t, st, "after", "v")
		if _, err := os.Stat(snap + ".damaged"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		dir, snap := mk(t)
		os.Remove(snap)
		_, err := Open(&Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), snap) || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("Open: %v; want an error saying %s is missing", err, snap)
		}
	})
}

// failingDisk injects errors into the log's writes and flushes.
type failingDisk struct{ write, sync atomic.Bool }

func (f *failingDisk) options() disk.LogOptions {
	return disk.LogOptions{
		WriteAt: func(file *os.File, p []byte, off int64) (int, error) {
			if f.write.Load() {
				return 0, syscall.ENOSPC
			}
			return file.WriteAt(p, off)
		},
		Sync: func(file *os.File) error {
			if f.sync.Load() {
				return syscall.EIO
			}
			return nil
		},
	}
}

func TestPersistDiskFull(t *testing.T) {
	dir := t.TempDir()
	var fd failingDisk
	st := openDir(t, dir, Options{logOptions: fd.options()})
	defer st.Close()
	val := bytes.Repeat([]byte("v"), 500)
	st.Set("before", val, 0)
	fd.write.Store(true)
	var acked []string
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		k := fmt.Sprintf("k%d", i)
		if err = st.Set(k, val, 0); err == nil {
			acked = append(acked, k)
		}
	}
	if !errors.Is(err, ErrNotPersisted) {
		t.Fatalf("writes on a full disk: %v; want ErrNotPersisted", err)
	}
	if _, err := st.Delete("before"); !errors.Is(err, ErrNotPersisted) {
		t.Fatalf("Delete on a full disk: %v", err)
	}
	mustGet(t, st, "before", string(val)) // reads go on
	if p := st.Persistence(); p.WriteOK {
		t.Fatal("Persistence says writes are fine")
	}
	fd.write.Store(false)
	testkit.Eventually(t, 5*time.Second, "writes resume once the disk takes them again", func() bool { return st.Set("after", val, 0) == nil })
	st.Close()
	st = openDir(t, dir, Options{})
	for _, k := range append(acked, "before", "after") {
		mustGet(t, st, k, string(val))
	}
}

func TestPersistFsyncAlways(t *testing.T) {
	dir := t.TempDir()
	var fd failingDisk
	st := openDir(t, dir, Options{Fsync: FsyncAlways, logOptions: fd.options()})
	defer st.Close()
	if err := st.Set("a", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if p := st.Persistence(); p.Fsyncs == 0 {
		t.Fatal("a write under FsyncAlways returned without a flush")
	}
	fd.sync.Store(true)
	if err := st.Set("b", []byte("2"), 0); !errors.Is(err, ErrNotPersisted) {
		t.Fatalf("a write whose flush failed: %v; want ErrNotPersisted", err)
	}
}

func TestPersistLoadInBackground(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Options{})
	for i := range 1000 {
		st.Set(fmt.Sprintf("k%d", i), []byte("v"), 0)
	}
	st.Close()
	st, err := Open(&Options{Dir: dir, LoadInBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	<-st.Loaded()
	if err := st.LoadError(); err != nil {
		t.Fatal(err)
	}
	mustGet(t, st, "k999", "v")
}

// TestPersistStaleDirectory: a cluster node's directory older than the
// tombstone lifetime is set aside, not loaded: peers may have dropped the
// tombstones of sessions deleted since, and its copies would come back.
func TestPersistStaleDirectory(t *testing.T) {
	dir := t.TempDir()
	clk := new(testkit.FakeClock)
	o := Options{Now: clk.Now, Tombstones: true, TombstoneTTL: time.Hour}
	st := openDir(t, dir, o)
	st.Set("old", []byte("v"), 0)
	st.Close()

	clk.Advance(59 * time.Minute) // within the lifetime: loaded
	st = openDir(t, dir, o)
	mustGet(t, st, "old", "v")
	st.Close()

	clk.Advance(2 * time.Hour) // past it
	st = openDir(t, dir, o)
	mustMiss(t, st, "old")
	st.Set("new", []byte("v"), 0)
	st.Close()
	aside, _ := filepath.Glob(filepath.Join(dir, "stale.*", "log.*"))
	if len(aside) == 0 {
		t.Error("the stale files were not kept aside")
	}
	st = openDir(t, dir, o) // the set-aside files stay out
	defer st.Close()
	mustMiss(t, st, "old")
	mustGet(t, st, "new", "v")

	// A single node keeps no tombstones, and its directory is never stale.
	dir2 := t.TempDir()
	st2 := openDir(t, dir2, Options{Now: clk.Now})
	st2.Set("k", []byte("v"), 0)
	st2.Close()
	clk.Advance(48 * time.Hour)
	st2 = openDir(t, dir2, Options{Now: clk.Now})
	defer st2.Close()
	mustGet(t, st2, "k", "v")
}

// TestPersistDeferWrites: with DeferWrites a change under FsyncAlways
// returns before its flush, and Sync makes every change made so far
// durable, with one flush, or says why not.
func TestPersistDeferWrites(t *testing.T) {
	dir := t.TempDir()
	var fd failingDisk
	st := openDir(t, dir, Options{Fsync: FsyncAlways, DeferWrites: true, logOptions: fd.options()})
	defer st.Close()
	before := st.Persistence().Fsyncs
	for i := range 16 {
		if err := st.Set(fmt.Sprint("k", i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := st.Persistence().Fsyncs - before; n < 1 || n > 2 {
		t.Errorf("16 changes and a Commit took %d flushes, want 1 (2 if the once-a-second one came between)", n)
	}
	fd.sync.Store(true)
	if err := st.Set("late", []byte("v"), 0); err != nil {
		t.Fatalf("a deferred change: %v", err)
	}
	if err := st.Commit(); !errors.Is(err, ErrNotPersisted) {
		t.Fatalf("Commit whose flush failed: %v; want ErrNotPersisted", err)
	}
}
