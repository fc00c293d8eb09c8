package sessiond

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// TestRecords: a visit in small steps sees every record once, tombstones
// marked and expired records left out, with values and versions as Load
// gives them.
func TestRecords(t *testing.T) {
	clk := new(testkit.FakeClock)
	st, err := Open(&Options{Now: clk.Now, Tombstones: true, Shards: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := map[string]Record{}
	for i := range 3000 {
		key := fmt.Sprintf("k%d", i)
		ttl := time.Duration(0)
		if i%10 == 0 {
			ttl = time.Second // expired below
		}
		if err := st.Set(key, []byte(fmt.Sprintf("v%d", i)), ttl); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			st.Delete(key)
		}
	}
	clk.Advance(2 * time.Second)
	for i := range 3000 {
		key := fmt.Sprintf("k%d", i)
		if rec, found, _ := st.Replica().Load(key); found {
			want[key] = rec
		}
	}
	seen := map[string]int{}
	calls := 0
	for cursor := uint64(0); ; {
		cursor, err = st.Replica().Records(cursor, 7, func(rec *Record) {
			seen[rec.Key]++
			w := want[rec.Key]
			if rec.Version != w.Version || rec.Deleted != w.Deleted || string(rec.Value) != string(w.Value) || (!w.Deleted && rec.Expires != w.Expires) {
				t.Errorf("Records gave %+v, Load gives %+v", *rec, w)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if cursor == 0 {
			break
		}
	}
	if len(seen) != len(want) {
		t.Errorf("visited %d keys, the store holds %d", len(seen), len(want))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s visited %d times", k, n)
		}
		if _, ok := want[k]; !ok {
			t.Errorf("visited %s, which Load does not find", k)
		}
	}
	if calls < len(want)/14 {
		t.Errorf("%d calls for %d records at 7 a call: the limit was not kept", calls, len(want))
	}
}
