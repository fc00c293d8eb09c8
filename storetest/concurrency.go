package storetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// The concurrency check's size: small enough for a network backend, large
// enough for the race detector to see the store's shared state.
const (
	workers      = 8
	opsPerWorker = 2000
	sharedKeys   = 16
)

// concurrencyChecks check that concurrent use neither races nor tears
// values.
func concurrencyChecks() []check[Store] {
	return []check[Store]{
		{"Concurrency", "concurrent operations keep values whole", concurrentOps},
	}
}

// wholeValue returns the value worker writes to key at step seq: an 8-byte
// header (worker, key, seq) repeated a number of times that depends on all
// three, so that a value torn between two writes, or written to the wrong
// key, does not decode.
func wholeValue(worker, key, seq int) []byte {
	var hdr [8]byte
	binary.BigEndian.PutUint16(hdr[0:], uint16(worker))
	binary.BigEndian.PutUint16(hdr[2:], uint16(key))
	binary.BigEndian.PutUint32(hdr[4:], uint32(seq))
	return bytes.Repeat(hdr[:], repeats(worker, key, seq))
}

func repeats(worker, key, seq int) int { return 1 + (seq*7919+worker*131+key*31)%257 }

// checkWhole returns an error unless v is a value wholeValue made for key.
func checkWhole(v []byte, key int) error {
	if len(v) < 8 || len(v)%8 != 0 {
		return fmt.Errorf("torn value for key %d: %d bytes, not whole headers", key, len(v))
	}
	hdr := v[:8]
	for i := 8; i < len(v); i += 8 {
		if !bytes.Equal(v[i:i+8], hdr) {
			return fmt.Errorf("torn value for key %d: header %x at byte %d differs from the first, %x", key, v[i:i+8], i, hdr)
		}
	}
	w := int(binary.BigEndian.Uint16(hdr[0:]))
	k := int(binary.BigEndian.Uint16(hdr[2:]))
	seq := int(binary.BigEndian.Uint32(hdr[4:]))
	switch {
	case w >= workers || seq >= opsPerWorker:
		return fmt.Errorf("value for key %d was never written: header %x", key, hdr)
	case k != key:
		return fmt.Errorf("value for key %d was written to key %d", key, k)
	case len(v) != 8*repeats(w, k, seq):
		return fmt.Errorf("torn value for key %d: %d bytes, want %d", key, len(v), 8*repeats(w, k, seq))
	}
	return nil
}

func sharedKey(i int) string { return fmt.Sprintf("shared:%d", i) }

// concurrentOps runs workers goroutines of random Set, Get, Touch, Delete,
// TTL and Exists calls on a few shared keys, and a scanner beside them, and
// then checks that every key holds a value some worker wrote in full.
func concurrentOps(t testing.TB, open func() Store) {
	s := open()
	seed := testSeed(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var cursor uint64
			for range maxScanCalls {
				keys, next, err := s.Scan(cursor, "shared:*", 4)
				if err != nil {
					t.Errorf("Scan during concurrent writes: %v", err)
					return
				}
				for _, k := range keys {
					var i int
					if _, err := fmt.Sscanf(k, "shared:%d", &i); err != nil || i < 0 || i >= sharedKeys || k != sharedKey(i) {
						t.Errorf("Scan during concurrent writes returned %q, which was never set", k)
						return
					}
				}
				if cursor = next; cursor == 0 {
					break
				}
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for seq := range opsPerWorker {
				key := r.IntN(sharedKeys)
				k := sharedKey(key)
				var err error
				switch op := r.IntN(10); {
				case op < 4:
					ttl := time.Duration(0)
					if op == 0 {
						ttl = time.Hour
					}
					err = s.Set(k, wholeValue(w, key, seq), ttl)
				case op < 7:
					var v []byte
					var found bool
					if v, found, err = s.Get(k); err == nil && found {
						err = checkWhole(v, key)
					}
				case op == 7:
					_, err = s.Touch(k, time.Hour)
				case op == 8:
					_, err = s.Delete(k)
				default:
					if _, err = s.Exists(k); err == nil {
						var d time.Duration
						var found bool
						if d, found, err = s.TTL(k); err == nil && found && (d < 0 || d > time.Hour) {
							err = fmt.Errorf("TTL(%q) = %v, but every ttl given was 0 or 1h", k, d)
						}
					}
				}
				if err != nil {
					t.Errorf("worker %d, op %d on %q (seed %d): %v", w, seq, k, seed, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-scanned
	if t.Failed() {
		return
	}
	for key := range sharedKeys {
		k := sharedKey(key)
		v, found := get(t, s, k)
		if found {
			if err := checkWhole(v, key); err != nil {
				t.Errorf("after concurrent writes: %v", err)
			}
		}
		if e := exists(t, s, k); e != found {
			t.Errorf("after concurrent writes, Exists(%q) = %v but Get found %v", k, e, found)
		}
	}
	if n := length(t, s); n > sharedKeys {
		t.Errorf("Len = %d after concurrent writes to %d keys", n, sharedKeys)
	}
}
