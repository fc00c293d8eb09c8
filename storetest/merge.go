package storetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
)

// seedEnv names the environment variable that, when set, fixes the seed of
// the randomized checks, to replay a failure.
const seedEnv = "STORETEST_SEED"

// mergeRounds is how many random record sets the merge check applies.
const mergeRounds = 200

// mergeChecks check that the merge by version is a function of the set of
// records applied, not of their order: the property replication relies on
// to converge.
func mergeChecks() []check[Versioned] {
	return []check[Versioned]{
		{"Merge", "apply order does not change the result", mergeOrder},
	}
}

// testSeed returns the seed for a randomized check, from seedEnv if it is
// set, and logs it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(seedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: not an unsigned integer", seedEnv, v)
		}
		seed = n
	}
	t.Logf("seed %d (set %s=%d to replay)", seed, seedEnv, seed)
	return seed
}

// mergeOrder applies each of mergeRounds random sets of records, over a few
// keys, to two stores in two random orders. Each Apply must report applied
// exactly when the record's version is higher than every one applied to its
// key before, and both stores must end with the highest version of every
// key. Versions are distinct per key (two records with one version are one
// write), but many share a Time and differ by Node.
func mergeOrder(t testing.TB, open func() Versioned) {
	a, b := open(), open()
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0))
	now := time.Now()
	for round := range mergeRounds {
		keys := make([]string, 1+r.IntN(3))
		for i := range keys {
			keys[i] = fmt.Sprintf("merge%d:%c", round, 'a'+i)
		}
		recs := randomRecords(r, keys, now, round)
		for _, s := range []Versioned{a, b} {
			held := make(map[string]sessiond.Version)
			for _, i := range r.Perm(len(recs)) {
				rec := recs[i]
				prev, seen := held[rec.Key]
				want := !seen || rec.Version.Compare(prev) > 0
				got := apply(t, s, rec)
				if got != want {
					t.Fatalf("round %d (seed %d): Apply(%s) = %v, want %v: the highest version held so far is %d.%d",
						round, seed, showRecord(rec), got, want, prev.Time, prev.Node)
				}
				if want {
					held[rec.Key] = rec.Version
				}
			}
		}
		for _, key := range keys {
			want, ok := highest(recs, key)
			for name, s := range map[string]Versioned{"first": a, "second": b} {
				got, found := load(t, s, key)
				switch {
				case found != ok:
					t.Fatalf("round %d (seed %d): the %s store's Load(%q) found %v, want %v", round, seed, name, key, found, ok)
				case !ok:
					continue
				}
				if msg := diffRecord(got, want); msg != "" {
					t.Fatalf("round %d (seed %d): the %s store's Load(%q) = %s, want %s, the highest version applied: %s",
						round, seed, name, key, showRecord(got), showRecord(want), msg)
				}
				v, found := get(t, s, key)
				if found == want.Deleted || found && string(v) != string(want.Value) {
					t.Fatalf("round %d (seed %d): the %s store's Get(%q) = %s, %v; its record is %s",
						round, seed, name, key, show(v), found, showRecord(want))
				}
			}
		}
	}
}

// randomRecords returns 1 to 8 records over keys, a quarter of them
// tombstones, with versions close together around now (ties on Time are
// common) and distinct per key. Live records have no expiry or one an hour
// away, so nothing expires during the check.
func randomRecords(r *rand.Rand, keys []string, now time.Time, round int) []sessiond.Record {
	n := 1 + r.IntN(8)
	used := make(map[string]map[sessiond.Version]bool)
	var recs []sessiond.Record
	for len(recs) < n {
		key := keys[r.IntN(len(keys))]
		v := ver(now, uint16(r.IntN(4)), uint32(1+r.IntN(3)))
		if used[key][v] {
			continue
		}
		if used[key] == nil {
			used[key] = make(map[sessiond.Version]bool)
		}
		used[key][v] = true
		rec := sessiond.Record{Key: key, Version: v}
		if r.IntN(4) == 0 {
			rec.Deleted = true
		} else {
			rec.Value = fmt.Appendf(nil, "round %d record %d", round, len(recs))
			rec.Flags = uint32(r.IntN(3))
			if r.IntN(2) == 0 {
				rec.Expires = now.Add(time.Hour).UnixMilli() + int64(r.IntN(1000))
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

// highest returns the record with the highest version for key.
func highest(recs []sessiond.Record, key string) (sessiond.Record, bool) {
	var best sessiond.Record
	found := false
	for _, rec := range recs {
		if rec.Key == key && (!found || rec.Version.Compare(best.Version) > 0) {
			best, found = rec, true
		}
	}
	return best, found
}
