package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	// Every value lies in its bucket: between the previous bucket's top
	// (exclusive) and its own top, and a bucket is narrower than 1/128
	// of its values.
	r := rand.New(rand.NewPCG(1, 2))
	vals := []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 40, 1<<63 - 1}
	for range 10_000 {
		vals = append(vals, r.Uint64N(1<<uint(r.IntN(63)+1)))
	}
	for _, v := range vals {
		i := bucket(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucket(%d) = %d, out of range", v, i)
		}
		hi := bucketHigh(i)
		lo := uint64(0)
		if i > 0 {
			lo = bucketHigh(i-1) + 1
		}
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if width := hi - lo + 1; width > 1 && width > v/subCount+1 {
			t.Fatalf("bucket %d of %d is %d wide", i, v, width)
		}
	}
}

func TestQuantileExactBelow128(t *testing.T) {
	var h Histogram
	for v := 100; v >= 1; v-- { // 1..100 ns, out of order
		h.Record(time.Duration(v))
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, 1}, {0.01, 1}, {0.5, 50}, {0.505, 51}, {0.99, 99}, {0.999, 100}, {1, 100},
	}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 {
		t.Errorf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	if got := h.Mean(); got != 51 { // 50.5 rounds up
		t.Errorf("Mean() = %v, want 51ns", got)
	}
}

func TestQuantileMatchesSort(t *testing.T) {
	// Against the nearest-rank quantile of the sorted samples, the
	// histogram is within its precision (and never below the true value,
	// since it reports the top of a bucket).
	r := rand.New(rand.NewPCG(3, 4))
	var vals []time.Duration
	var parts [4]Histogram
	for i := range 50_000 {
		// Log-uniform from 1µs to 100ms, like real latencies.
		v := time.Duration(1000 * float64(uint64(1)<<uint(r.IntN(17))) * (1 + r.Float64()))
		vals = append(vals, v)
		parts[i%4].Record(v)
	}
	var h Histogram
	for i := range parts {
		h.Merge(&parts[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		rank := int(float64(len(vals))*q + 0.999999)
		want := vals[rank-1]
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/subCount {
			t.Errorf("Quantile(%v) = %v, want %v within 1/%d", q, got, want, subCount)
		}
	}
	if h.Count() != uint64(len(vals)) || h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
		t.Errorf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
}

func TestQuantileEdges(t *testing.T) {
	var empty Histogram
	if got := empty.Quantile(0.5); got != 0 {
		t.Errorf("empty Quantile = %v", got)
	}
	if got := empty.Mean(); got != 0 {
		t.Errorf("empty Mean = %v", got)
	}
	var h Histogram
	h.Merge(&empty)
	h.Record(-5) // clamps to 0
	h.Record(12345 * time.Microsecond)
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("Quantile(0.5) = %v, want 0", got)
	}
	// The top of the bucket is above the value; the exact max caps it.
	if got := h.Quantile(0.99); got != 12345*time.Microsecond {
		t.Errorf("Quantile(0.99) = %v, want 12.345ms", got)
	}
}

func TestResultOpsPerSec(t *testing.T) {
	r := Result{Ops: 1500, Elapsed: 3 * time.Second}
	if got := r.OpsPerSec(); got != 500 {
		t.Errorf("OpsPerSec() = %v, want 500", got)
	}
	if got := (&Result{Ops: 1}).OpsPerSec(); got != 0 {
		t.Errorf("OpsPerSec() with no time = %v, want 0", got)
	}
}

func TestCheckLocal(t *testing.T) {
	tests := []struct {
		network, addr string
		ok            bool
	}{
		{"tcp", "127.0.0.1:6379", true},
		{"tcp", "127.8.9.10:1", true},
		{"tcp", "[::1]:6379", true},
		{"tcp", "localhost:6379", true},
		{"unix", "/tmp/x.sock", true},
		{"tcp", "10.0.0.1:6379", false},
		{"tcp", "192.168.1.2:6379", false},
		{"tcp", "example.com:6379", false},
		{"tcp", ":6379", false},
		{"udp", "127.0.0.1:6379", false},
		{"unix", "", false},
	}
	for _, tt := range tests {
		if err := checkLocal(tt.network, tt.addr); (err == nil) != tt.ok {
			t.Errorf("checkLocal(%q, %q) = %v, want ok=%v", tt.network, tt.addr, err, tt.ok)
		}
	}
}
