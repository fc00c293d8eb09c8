package goclients

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/compat/harness"
)

// TestRedisCLIOperatorModes runs redis-cli's --bigkeys, --memkeys and
// --latency against the server and checks their answers against what the
// keys are: --bigkeys walks the keyspace with SCAN, TYPE and STRLEN,
// --memkeys with MEMORY USAGE, --latency times PINGs (for one second when
// its output is not a terminal, so it ends).
func TestRedisCLIOperatorModes(t *testing.T) {
	t.Parallel()
	harness.Need(t, "redis-cli")
	srv := startTarget(t, "")
	tcp := tcpArgs(t, srv)
	rdb := newClient(t, clientOptions(srv, variant{protocol: 2}))
	ctx := testContext(t)
	sizes := map[string]int{"cli:big": 5000}
	for i := range 30 {
		sizes[fmt.Sprintf("cli:%d", i)] = 10 * (i + 1)
	}
	total, keyBytes := 0, 0
	for k, n := range sizes {
		want(t, rdb.Set(ctx, k, strings.Repeat("x", n), 0), "OK")
		total += n
		keyBytes += len(k)
	}

	t.Run("bigkeys", func(t *testing.T) {
		o := cli(t, tcp, "--bigkeys")
		for _, line := range []string{
			fmt.Sprintf("Sampled %d keys in the keyspace!", len(sizes)),
			fmt.Sprintf("Total key length in bytes is %d", keyBytes),
			`Biggest string found '"cli:big"' has 5000 bytes`,
			fmt.Sprintf("%d strings with %d bytes (100.00%% of keys", len(sizes), total),
		} {
			if o.err != nil || !strings.Contains(o.stdout, line) {
				t.Errorf("redis-cli --bigkeys: want the line %q in\n%v", line, o)
			}
		}
	})

	t.Run("memkeys", func(t *testing.T) {
		usage := map[string]int64{}
		sum := int64(0)
		for k := range sizes {
			n, err := rdb.MemoryUsage(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			usage[k] = n
			sum += n
		}
		o := cli(t, tcp, "--memkeys")
		m := regexp.MustCompile(`Biggest string found '"([^"]+)"' has (\d+) bytes`).FindStringSubmatch(o.stdout)
		if o.err != nil || m == nil || m[1] != "cli:big" || m[2] != strconv.FormatInt(usage["cli:big"], 10) {
			t.Errorf("redis-cli --memkeys: want cli:big as the biggest, with MEMORY USAGE's %d bytes, in\n%v", usage["cli:big"], o)
		}
		if line := fmt.Sprintf("%d strings with %d bytes", len(sizes), sum); !strings.Contains(o.stdout, line) {
			t.Errorf("redis-cli --memkeys: want the line %q (the sum of MEMORY USAGE) in\n%v", line, o)
		}
	})

	t.Run("latency", func(t *testing.T) {
		o := cli(t, tcp, "--latency")
		// min max avg samples
		f := strings.Fields(strings.TrimSpace(o.stdout))
		if o.err != nil || len(f) != 4 {
			t.Fatalf("redis-cli --latency: want min, max, avg and samples, got\n%v", o)
		}
		minMS, err1 := strconv.Atoi(f[0])
		maxMS, err2 := strconv.Atoi(f[1])
		avg, err3 := strconv.ParseFloat(f[2], 64)
		samples, err4 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || samples < 10 || minMS > maxMS || avg < float64(minMS) || avg > float64(maxMS) {
			t.Errorf("redis-cli --latency: %q: want min <= avg <= max and at least 10 samples in its second", o.stdout)
		}
	})
}
