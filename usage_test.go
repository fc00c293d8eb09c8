package sessiond

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// TestUsage: a key's usage is its record's space and its share of the
// index; a large record counts its block; a missing or expired key has
// none; and the usage of every key adds up to at most what the store has
// taken for records and index.
func TestUsage(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Shards: 1, Now: clk.Now, MaxValueSize: 1 << 20, ReapInterval: time.Hour})
	cases := []struct {
		key    string
		value  int
		lo, hi int64
	}{
		{"small", 10, headerSize + 5 + 10, headerSize + 5 + 10 + maxPad},
		{"session", 1000, headerSize + 7 + 1000, headerSize + 7 + 1000 + maxPad},
		{"large", 200 << 10, 200 << 10, 200<<10 + int64(pageSize)},
	}
	for _, c := range cases {
		if err := st.Set(c.key, []byte(strings.Repeat("v", c.value)), 0); err != nil {
			t.Fatal(err)
		}
	}
	x := &st.shards[0].idx
	share := int64(len(x.slots)) * 8 / int64(x.count)
	var sum int64
	for _, c := range cases {
		n, found, err := st.Usage(c.key)
		n -= share
		if err != nil || !found || n < c.lo || n > c.hi {
			t.Errorf("Usage(%q) = %d, %v, %v; want found, in [%d, %d]", c.key, n, found, err, c.lo, c.hi)
		}
		sum += n + share
	}
	if used := st.Stats().UsedMemory; sum > used {
		t.Errorf("usage of every key adds up to %d, more than the %d bytes the store took", sum, used)
	}
	if n, found, err := st.Usage("missing"); found || n != 0 || err != nil {
		t.Errorf("Usage(missing) = %d, %v, %v; want 0, false, nil", n, found, err)
	}
	if err := st.Set("brief", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if n, found, err := st.Usage("brief"); found || n != 0 || err != nil {
		t.Errorf("Usage(expired) = %d, %v, %v; want 0, false, nil", n, found, err)
	}
}

// TestSampleTTL: the average of the keys with an expiry, none counted
// without one; exact when every key is sampled.
func TestSampleTTL(t *testing.T) {
	clk := new(testkit.FakeClock)
	st := openTest(t, &Options{Shards: 4, Now: clk.Now, ReapInterval: time.Hour})
	if avg, n, err := st.SampleTTL(100); avg != 0 || n != 0 || err != nil {
		t.Fatalf("empty store: SampleTTL = %v, %d, %v; want 0, 0, nil", avg, n, err)
	}
	for i := range 50 {
		if err := st.Set(fmt.Sprintf("p%d", i), []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if avg, n, err := st.SampleTTL(100); avg != 0 || n != 0 || err != nil {
		t.Fatalf("no expiry: SampleTTL = %v, %d, %v; want 0, 0, nil", avg, n, err)
	}
	for i := range 20 {
		ttl := 100 * time.Second
		if i%2 == 1 {
			ttl = 300 * time.Second
		}
		if err := st.Set(fmt.Sprintf("v%d", i), []byte("x"), ttl); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(10 * time.Second)
	avg, n, err := st.SampleTTL(1000)
	if err != nil || n != 20 || avg != 190*time.Second {
		t.Errorf("SampleTTL(1000) = %v, %d, %v; want 190s from all 20 keys", avg, n, err)
	}
	// A small sample reads a few entries from a random slot of each
	// shard, and may find no key with an expiry there (about one time in
	// 250 here): some of 50 samples do.
	found := 0
	for range 50 {
		avg, n, err = st.SampleTTL(4)
		if err != nil || n > 4 || n > 0 && (avg < 90*time.Second || avg > 290*time.Second) {
			t.Fatalf("SampleTTL(4) = %v, %d, %v; want up to 4 keys between 90s and 290s", avg, n, err)
		}
		found += n
	}
	if found == 0 {
		t.Error("SampleTTL(4) found no key with an expiry in 50 samples")
	}
}
