package sessiond

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// Regression, found in review. A key that expires more than ~292 years from now reports a garbage
// (negative) TTL: time.Duration(e-now)*time.Millisecond overflows.
func TestRegressTTLOverflow(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Now: clk.Now})
	st.Set("k", []byte("v"), 0)
	far := clk.Now().UnixMilli() + 10_000_000_000*1000 // EXPIRE k 10000000000
	if _, err := st.Update("k", func(e *Entry) error { e.SetExpires(time.UnixMilli(far)); return nil }); err != nil {
		t.Fatal(err)
	}
	ttl, found, err := st.TTL("k")
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if ttl <= 0 {
		t.Fatalf("TTL of a live key expiring in 10^10 s = %v (overflowed)", ttl)
	}
}

// Regression, found in review. A TTL within 1ms of the largest Duration overflows in expiresAt's
// rounding, turns into "already expired", and deletes the existing key.
// The server reaches this with SET k v PX 9223372036854 / PSETEX.
func TestRegressExpiresAtOverflow(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Now: clk.Now})
	st.Set("k", []byte("old"), 0)
	if _, err := st.Write("k", []byte("new"), WriteOptions{TTL: time.Duration(math.MaxInt64/int64(time.Millisecond)) * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := st.Get("k"); !found {
		t.Fatal("a write with a ~292-year TTL deleted the key")
	}
}

// Regression, found in review. Under allkeys-lru, a session that is read and then rewritten with a value
// of the same size (express-session + connect-redis: GET, then SET of a JSON
// whose length does not change) is rewritten in place, which clears the
// read bit and leaves it in its old segment: it is evicted as if never used.
func TestRegressLRUInPlaceWriteLosesRecency(t *testing.T) {
	st := openTest(t, &Options{Shards: 1, MaxMemory: 2 << 20, Policy: AllKeysLRU})
	val := make([]byte, 512)
	for i := range 50 {
		st.Set(fmt.Sprintf("hot:%d", i), val, 0)
	}
	lost := 0
	for i := range 20000 {
		if err := st.Set(fmt.Sprintf("cold:%d", i), val, 0); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			for j := range 50 {
				k := fmt.Sprintf("hot:%d", j)
				if _, ok, _ := st.Get(k); !ok { // the request reads its session
					lost++
				}
				st.Set(k, val, 0) // and saves it back, same size
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d times a session used on every round was found evicted; Evictions=%d", lost, st.Stats().Evictions)
	}
}
