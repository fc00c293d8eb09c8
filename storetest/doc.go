// Package storetest is a conformance suite for sessiond stores, in the
// manner of testing/fstest and log/slog/slogtest. Every backend, the embedded
// engine as well as a network client or a clustered store, runs the same
// tests, so that they all keep one contract: the one written on Store and
// Versioned.
//
// # Basics
//
// A backend's own test calls Run with a function that opens a new, empty
// store and registers its cleanup with t.Cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store {
//			s, err := mystore.Open(nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// A store that merges versioned records, as replication needs, also has
// Apply and Load; it runs RunVersioned instead, which runs everything Run
// does plus the version and tombstone tests:
//
//	storetest.RunVersioned(t, func(t *testing.T) storetest.Versioned {
//		s, err := mystore.Open(&mystore.Options{Tombstones: true})
//		...
//	})
//
// Each check is a subtest whose name reads as the rule it checks, grouped
// by method (GetSet, TTL, Touch, Delete, Len, Clear, Scan, Concurrency and,
// for versioned stores, Apply, Tombstones, Load, Clock, Merge), so that a
// failure such as
//
//	TestConformance/Scan/keys_present_throughout_are_returned_despite_writes
//
// says what broke, and -run selects a single rule.
//
// # Caveats
//
//   - The tests take real time (expiry is checked with ttls of a few hundred
//     milliseconds), so a store must use the wall clock, not a fake one, and
//     its clock must agree with the test's to within 10ms. Against an
//     in-memory store the suite takes a few seconds; the subtests of a group
//     run in parallel, and Run returns when all of them are done.
//   - open is called at least once per subtest and must return a store that
//     is empty and shares nothing with any other; a subtest that compares two
//     stores calls it twice.
//   - Values of up to 512 KiB are stored, and binary keys (zero bytes,
//     newlines, invalid UTF-8) and the empty key are used.
//   - The versioned tests apply versions stamped from the wall clock (as
//     internal/hlc does: milliseconds in the upper 48 bits) and up to 10
//     seconds ahead of it, as a peer with a fast clock would send.
//     RunVersioned needs a store that keeps tombstones.
//   - The randomized checks log their seed; set STORETEST_SEED to replay
//     one.
//
// # How the suite reads the contract
//
// Where the method docs leave room, the suite holds stores to this:
//
//   - An expired key is gone for every method as soon as it expires, not
//     only for Get: Exists, TTL, Scan and Load leave it out, Touch and
//     Delete report found false. Only Len may count it until it is
//     reclaimed.
//   - A ttl under a millisecond still expires the key (it never rounds to
//     "no expiry"). TTL of a key with an expiry is in (0, ttl], never 0, so
//     a store that keeps expiry in milliseconds rounds it down.
//   - Set without ttl removes an earlier ttl, as Redis SET does. A nil value
//     and an empty one are the same, stored, value.
//   - Delete, Set with ttl < 0 and Touch with ttl <= 0 on a present key are
//     all deletes: on a versioned store each leaves a tombstone with a
//     version higher than the deleted record's.
//   - Every local write, Touch included, gets a version higher than any the
//     store has issued or seen through Apply, on any key.
//   - Apply of a record that has already expired is, in effect, a delete at
//     its version: neither it nor an older record is returned, and Load
//     finds nothing or a tombstone. Whether Apply reports it applied is
//     left open.
//   - A tombstone is not a key: Len does not count it, Scan does not
//     return it.
package storetest
