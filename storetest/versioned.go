package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// stamp returns the hybrid logical clock time of wall clock t with a logical
// counter: milliseconds in the upper 48 bits, the counter in the lower 16,
// as sessiond.Version.Time holds it. The checks stamp their versions from
// the wall clock because a store may judge a version by its time (to keep a
// tombstone long enough, for instance).
func stamp(t time.Time, counter uint16) uint64 {
	return uint64(t.UnixMilli())<<16 | uint64(counter)
}

// ver returns the version counter steps after the wall clock time base.
func ver(base time.Time, counter uint16, node uint32) sessiond.Version {
	return sessiond.Version{Time: stamp(base, counter), Node: node}
}

func live(key, value string, v sessiond.Version) sessiond.Record {
	return sessiond.Record{Key: key, Value: []byte(value), Version: v}
}

func tombstone(key string, v sessiond.Version) sessiond.Record {
	return sessiond.Record{Key: key, Version: v, Deleted: true}
}

// wantRecord checks that Load(want.Key) returns want: for a tombstone its
// version, for a live record also its value, expiry and flags.
func wantRecord(t testing.TB, s Versioned, want sessiond.Record) {
	t.Helper()
	got, found := load(t, s, want.Key)
	if !found {
		t.Fatalf("Load(%q) found nothing, want %s", want.Key, showRecord(want))
	}
	if msg := diffRecord(got, want); msg != "" {
		t.Fatalf("Load(%q) = %s, want %s: %s", want.Key, showRecord(got), showRecord(want), msg)
	}
}

// diffRecord says how got differs from want, or returns "". A tombstone's
// value, flags and expiry are the store's business (it may keep a tombstone
// for as long as it likes), so only its version is compared.
func diffRecord(got, want sessiond.Record) string {
	switch {
	case got.Key != want.Key:
		return "different key"
	case got.Deleted != want.Deleted:
		return "different Deleted"
	case got.Version != want.Version:
		return "different version"
	case want.Deleted:
		return ""
	case !bytes.Equal(got.Value, want.Value):
		return "different value"
	case got.Expires != want.Expires:
		return "different Expires"
	case got.Flags != want.Flags:
		return "different Flags"
	}
	return ""
}

// applyChecks check that Apply keeps the record with the highest version.
func applyChecks() []check[Versioned] {
	const g = "Apply"
	return []check[Versioned]{
		{g, "apply to a missing key stores the record", func(t testing.TB, open func() Versioned) {
			s := open()
			now := time.Now()
			rec := sessiond.Record{Key: "k", Value: []byte("v"), Expires: now.Add(time.Hour).UnixMilli(), Flags: 42, Version: ver(now, 1, 2)}
			if !apply(t, s, rec) {
				t.Fatalf("Apply(%s) = false for a key never set", showRecord(rec))
			}
			wantValue(t, s, "k", []byte("v"))
			wantRecord(t, s, rec)
			wantTTL(t, s, "k", time.Hour, now.Add(-time.Millisecond), now)
			if n := length(t, s); n != 1 {
				t.Fatalf("Len = %d after applying one record", n)
			}
		}},
		{g, "higher version replaces", func(t testing.TB, open func() Versioned) {
			s := open()
			now := time.Now()
			steps := []sessiond.Record{
				live("k", "first", ver(now, 1, 1)),
				live("k", "higher counter", ver(now, 2, 1)),
				live("k", "same time, higher node", ver(now, 2, 3)),
				live("k", "later wall clock", ver(now.Add(time.Second), 0, 1)),
			}
			steps[2].Flags = 7
			for _, rec := range steps {
				if !apply(t, s, rec) {
					t.Fatalf("Apply(%s) = false over a lower version", showRecord(rec))
				}
				wantValue(t, s, "k", rec.Value)
				wantRecord(t, s, rec)
			}
		}},
		{g, "lower or equal version is refused", func(t testing.TB, open func() Versioned) {
			s := open()
			now := time.Now()
			held := live("k", "held", ver(now, 5, 2))
			held.Flags = 9
			apply(t, s, held)
			for _, rec := range []sessiond.Record{
				live("k", "lower counter", ver(now, 4, 2)),
				live("k", "same time, lower node", ver(now, 5, 1)),
				live("k", "equal version", ver(now, 5, 2)),
				live("k", "earlier wall clock", ver(now.Add(-time.Second), 100, 9)),
				tombstone("k", ver(now, 5, 1)),
				tombstone("k", ver(now, 5, 2)),
			} {
				if apply(t, s, rec) {
					t.Fatalf("Apply(%s) = true over %s", showRecord(rec), showRecord(held))
				}
				wantValue(t, s, "k", []byte("held"))
				wantRecord(t, s, held)
			}
		}},
		{g, "apply copies the value", func(t testing.TB, open func() Versioned) {
			s := open()
			rec := live("k", "original", ver(time.Now(), 1, 1))
			apply(t, s, rec)
			copy(rec.Value, "XXXXXXXX")
			wantValue(t, s, "k", []byte("original"))
			got, _ := load(t, s, "k")
			copy(got.Value, "YYYYYYYY")
			wantValue(t, s, "k", []byte("original"))
		}},
		{g, "applied record that already expired is not returned", func(t testing.TB, open func() Versioned) {
			s := open()
			now := time.Now()
			past := now.Add(-time.Second).UnixMilli()
			// On a key never seen, and over a live record of a lower
			// version: the higher version wins even though it has expired,
			// so the older value must not come back either.
			apply(t, s, live("older", "older value", ver(now, 1, 1)))
			for _, key := range []string{"fresh", "older"} {
				rec := sessiond.Record{Key: key, Value: []byte("expired"), Expires: past, Version: ver(now, 2, 1)}
				apply(t, s, rec)
				wantMissing(t, s, key)
				// A store may keep the expired write as a tombstone at its
				// version (it is a delete, in effect), but never as live.
				if got, found := load(t, s, key); found && (!got.Deleted || got.Version.Compare(rec.Version) < 0) {
					t.Fatalf("Load(%q) = %s after applying %s, which had expired; want nothing or a tombstone at least as high",
						key, showRecord(got), showRecord(rec))
				}
			}
			if seen := scanAll(t, s, "", 10, nil); len(seen) != 0 {
				t.Fatalf("Scan returned %q; every key's highest version had expired", keysOf(seen))
			}
		}},
	}
}

// tombstoneChecks check that a delete, applied or local, hides a key and
// keeps it hidden from every lower version.
func tombstoneChecks() []check[Versioned] {
	const g = "Tombstones"
	return []check[Versioned]{
		{g, "tombstone hides the key", func(t testing.TB, open func() Versioned) {
			s := open()
			now := time.Now()
			apply(t, s, live("k", "v", ver(now, 1, 1)))
			apply(t, s, live("other", "v", ver(now, 1, 1)))
			dead := tombstone("k", ver(now, 2, 1))
			if !apply(t, s, dead) {
				t.Fatalf("Apply(%s) = false over a lower version", showRecord(dead))
			}
			wantMissing(t, s, "k")
			wantRecord(t, s, dead)
			if n := length(t, s); n != 1 {
				t.Fatalf("Len = %d with one live key and one tombstone, want 1", n)
			}
			if seen := scanAll(t, s, "", 10, nil); seen["k"] != 0 || seen["other"] == 0 {
				t.Fatalf("Scan returned %q, want only %q", keysOf(seen), "other")
			}
			if touch(t, s, "k", time.Hour) {
				t.Fatalf("Touch(%q) = true for a deleted key", "k")
			}
			if del(t, s, "k") {
				t.Fatalf("Delete(%q) = true for a deleted key", "k")
			}
		}},
		{g, "lower version does not bring a deleted key back", func(t testing.TB, open func() Versioned) {
			s := open()
			now := time.Now()
			apply(t, s, live("k", "v1", ver(now, 1, 1)))
			dead := tombstone("k", ver(now, 3, 1))
			apply(t, s, dead)
			for _, rec := range []sessiond.Record{
				live("k", "between", ver(now, 2, 5)),
				live("k", "same time, lower node", ver(now, 3, 0)),
				live("k", "equal version", ver(now, 3, 1)),
			} {
				if apply(t, s, rec) {
					t.Fatalf("Apply(%s) = true over %s", showRecord(rec), showRecord(dead))
				}
				wantMissing(t, s, "k")
				wantRecord(t, s, dead)
			}
		}},
		{g, "higher version brings a deleted key back", func(t testing.TB, open func() Versioned) {
			s := open()
			now := time.Now()
			apply(t, s, live("k", "v1", ver(now, 1, 1)))
			apply(t, s, tombstone("k", ver(now, 2, 1)))
			again := live("k", "v3", ver(now, 2, 2))
			if !apply(t, s, again) {
				t.Fatalf("Apply(%s) = false over a tombstone of a lower version", showRecord(again))
			}
			wantValue(t, s, "k", []byte("v3"))
			wantRecord(t, s, again)
		}},
		{g, "tombstone for a key never seen is kept", func(t testing.TB, open func() Versioned) {
			// A delete can reach a replica before the write it deletes.
			s := open()
			now := time.Now()
			dead := tombstone("k", ver(now, 2, 1))
			if !apply(t, s, dead) {
				t.Fatalf("Apply(%s) = false for a key never seen", showRecord(dead))
			}
			wantRecord(t, s, dead)
			if apply(t, s, live("k", "late", ver(now, 1, 1))) {
				t.Fatalf("Apply of a write older than its delete = true")
			}
			wantMissing(t, s, "k")
			if n := length(t, s); n != 0 {
				t.Fatalf("Len = %d with only a tombstone, want 0", n)
			}
		}},
		{g, "local delete leaves a tombstone", func(t testing.TB, open func() Versioned) {
			s := open()
			deletes := []struct {
				how string
				del func(key string)
			}{
				{"Delete", func(key string) {
					if !del(t, s, key) {
						t.Fatalf("Delete(%q) = false for a present key", key)
					}
				}},
				{"Set with a negative ttl", func(key string) { set(t, s, key, []byte("x"), -time.Second) }},
				{"Touch with ttl 0", func(key string) {
					if !touch(t, s, key, 0) {
						t.Fatalf("Touch(%q, 0) = false for a present key", key)
					}
				}},
			}
			for i, d := range deletes {
				key := fmt.Sprint("k", i)
				set(t, s, key, []byte("v"), time.Hour)
				before, _ := load(t, s, key)
				d.del(key)
				after, found := load(t, s, key)
				if !found || !after.Deleted {
					t.Fatalf("after %s, Load(%q) = %s, %v; want a tombstone", d.how, key, showRecord(after), found)
				}
				if after.Version.Compare(before.Version) <= 0 {
					t.Fatalf("after %s, Load(%q) = %s; want a version higher than the deleted record's %s",
						d.how, key, showRecord(after), showRecord(before))
				}
				// The deleted write, replayed by a peer, stays deleted.
				if apply(t, s, before) {
					t.Fatalf("after %s, Apply(%s) of the deleted record = true", d.how, showRecord(before))
				}
				wantMissing(t, s, key)
			}
		}},
	}
}

// loadChecks check that Load reports what the store holds.
func loadChecks() []check[Versioned] {
	const g = "Load"
	return []check[Versioned]{
		{g, "missing key is not found", func(t testing.TB, open func() Versioned) {
			s := open()
			if rec, found := load(t, s, "missing"); found {
				t.Fatalf("Load(%q) = %s for a key never set", "missing", showRecord(rec))
			}
		}},
		{g, "load reports a local write", func(t testing.TB, open func() Versioned) {
			s := open()
			before := time.Now()
			set(t, s, "ttl", []byte("with ttl"), time.Hour)
			set(t, s, "forever", []byte("forever"), 0)
			after := time.Now()
			rec, found := load(t, s, "ttl")
			switch {
			case !found:
				t.Fatalf("Load(%q) found nothing after Set", "ttl")
			case rec.Key != "ttl" || !bytes.Equal(rec.Value, []byte("with ttl")) || rec.Deleted || rec.Flags != 0:
				t.Fatalf("Load(%q) = %s after Set(%q, %q, 1h)", "ttl", showRecord(rec), "ttl", "with ttl")
			case rec.Version.IsZero():
				t.Fatalf("Load(%q) = %s: a local write must get a version", "ttl", showRecord(rec))
			}
			lo := before.Add(time.Hour - clockSlack).UnixMilli()
			hi := after.Add(time.Hour + clockSlack).UnixMilli()
			if rec.Expires < lo || rec.Expires > hi {
				t.Fatalf("Load(%q).Expires = %d, want the unix ms of the Set plus 1h, in [%d, %d]", "ttl", rec.Expires, lo, hi)
			}
			rec, _ = load(t, s, "forever")
			if rec.Expires != 0 {
				t.Fatalf("Load(%q).Expires = %d for a key set without ttl, want 0", "forever", rec.Expires)
			}
		}},
		{g, "load leaves out expired records", func(t testing.TB, open func() Versioned) {
			s := open()
			before := time.Now()
			set(t, s, "k", []byte("v"), 50*time.Millisecond)
			after := time.Now()
			expectExpiry(t, s, "k", []byte("v"), 50*time.Millisecond, before, after)
			// Nothing, or a tombstone if the store turns expired records
			// into tombstones as it reclaims them.
			if rec, found := load(t, s, "k"); found && !rec.Deleted {
				t.Fatalf("Load(%q) = %s after the key expired", "k", showRecord(rec))
			}
		}},
	}
}

// clockChecks check that local writes are stamped with versions higher than
// every version the store has held or seen, as a hybrid logical clock
// does, so that a local write is never lost to an older one.
func clockChecks() []check[Versioned] {
	const g = "Clock"
	return []check[Versioned]{
		{g, "successive local writes get higher versions", func(t testing.TB, open func() Versioned) {
			s := open()
			var last sessiond.Version
			for i := range 200 {
				key := fmt.Sprint("k", i%3)
				switch i % 4 {
				case 3:
					touch(t, s, key, time.Hour)
				default:
					set(t, s, key, fmt.Appendf(nil, "v%d", i), 0)
				}
				rec, _ := load(t, s, key)
				if rec.Version.Compare(last) <= 0 {
					t.Fatalf("write %d got version %d.%d, not higher than the one before, %d.%d",
						i, rec.Version.Time, rec.Version.Node, last.Time, last.Node)
				}
				last = rec.Version
			}
		}},
		{g, "local write after apply gets a higher version", func(t testing.TB, open func() Versioned) {
			// A peer whose clock runs ahead sent this write; the local
			// write that follows it must still win.
			s := open()
			ahead := live("k", "from a peer", ver(time.Now().Add(10*time.Second), 3, 1<<30))
			apply(t, s, ahead)
			set(t, s, "k", []byte("local"), 0)
			rec, _ := load(t, s, "k")
			if rec.Version.Compare(ahead.Version) <= 0 {
				t.Fatalf("Set after Apply(%s) got version %d.%d, want a higher one", showRecord(ahead), rec.Version.Time, rec.Version.Node)
			}
			wantValue(t, s, "k", []byte("local"))
		}},
		{g, "clock moves past applied versions on every key", func(t testing.TB, open func() Versioned) {
			s := open()
			ahead := live("peer", "from a peer", ver(time.Now().Add(10*time.Second), 3, 1<<30))
			apply(t, s, ahead)
			set(t, s, "local", []byte("local"), 0)
			rec, _ := load(t, s, "local")
			if rec.Version.Compare(ahead.Version) <= 0 {
				t.Fatalf("Set(%q) after Apply(%s) got version %d.%d, want a higher one: the clock must move past every version it has seen",
					"local", showRecord(ahead), rec.Version.Time, rec.Version.Node)
			}
		}},
		{g, "touch stamps a new version", func(t testing.TB, open func() Versioned) {
			// A new expiry has to reach the replicas, so it needs a version
			// that wins over the write it changes.
			s := open()
			set(t, s, "k", []byte("v"), time.Hour)
			before, _ := load(t, s, "k")
			start := time.Now()
			touch(t, s, "k", 2*time.Hour)
			end := time.Now()
			after, _ := load(t, s, "k")
			if after.Version.Compare(before.Version) <= 0 {
				t.Fatalf("Touch left the version at %d.%d, want a higher one", after.Version.Time, after.Version.Node)
			}
			lo, hi := start.Add(2*time.Hour-clockSlack).UnixMilli(), end.Add(2*time.Hour+clockSlack).UnixMilli()
			if !bytes.Equal(after.Value, []byte("v")) || after.Expires < lo || after.Expires > hi {
				t.Fatalf("after Touch(%q, 2h), Load = %s; want value %q and Expires in [%d, %d]", "k", showRecord(after), "v", lo, hi)
			}
		}},
	}
}
