package main

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "1b", want: 1},
		{in: "1B", want: 1},
		// Redis's units: a bare letter is a power of 1000, with b of 1024.
		{in: "1k", want: 1000},
		{in: "1kb", want: 1024},
		{in: "1KB", want: 1024},
		{in: "1Kb", want: 1024},
		{in: "5m", want: 5_000_000},
		{in: "512mb", want: 512 << 20},
		{in: "2g", want: 2_000_000_000},
		{in: "2gb", want: 2 << 30},
		{in: "2GB", want: 2 << 30},
		{in: "007mb", want: 7 << 20},
		{in: "8589934591gb", want: 8589934591 << 30}, // the largest whole gb
		{in: "8589934592gb", err: errTooLarge},
		{in: "9223372036854775807", want: math.MaxInt64},
		{in: "9223372036854775808", err: errTooLarge},
		{in: "99999999999999999999999", err: errTooLarge},
		{in: "", err: errNotSize},
		{in: "mb", err: errNotSize},
		{in: "-1", err: errNotSize},
		{in: "+1", err: errNotSize},
		{in: " 1", err: errNotSize},
		{in: "1 mb", err: errUnknownUnit},
		{in: "1.5gb", err: errUnknownUnit},
		{in: "12XB", err: errUnknownUnit},
		{in: "1tb", err: errUnknownUnit},
		{in: "1kib", err: errUnknownUnit},
		{in: "0x10", err: errUnknownUnit},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in, math.MaxInt64)
			if !errors.Is(err, tt.err) || (err == nil && got != tt.want) {
				t.Errorf("parseSize(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseSizeLimit(t *testing.T) {
	if n, err := parseSize("1kb", 1024); n != 1024 || err != nil {
		t.Errorf("parseSize(1kb, 1024) = %d, %v; want 1024, nil", n, err)
	}
	if _, err := parseSize("1025", 1024); !errors.Is(err, errTooLarge) {
		t.Errorf("parseSize(1025, 1024) error = %v, want %v", err, errTooLarge)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "512mb", "2GB", "1k", "12XB", "-1", "99999999999gb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s, math.MaxInt64)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d, negative", s, n)
		}
		// Whatever parses is digits and a unit that multiplies them.
		digits := strings.TrimRight(strings.ToLower(s), "bkmg")
		d, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n != d*sizeUnits[strings.ToLower(s[len(digits):])] {
			t.Fatalf("parseSize(%q) = %d, not %q times its unit", s, n, digits)
		}
	})
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  error
	}{
		{in: "0", want: 0},
		{in: "64", want: 64},
		{in: "65536", want: 65536},
		{in: "65537", err: errOutOfRange},
		{in: "-1", err: errOutOfRange},
		{in: "99999999999999999999", err: errOutOfRange},
		{in: "", err: errNotInt},
		{in: "8k", err: errNotInt},
	}
	for _, tt := range tests {
		got, err := parseInt(tt.in, 0, 65536)
		if !errors.Is(err, tt.err) || (err == nil && got != tt.want) {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, name := range []string{"noeviction", "volatile-ttl", "allkeys-lru"} {
		p, err := parsePolicy(strings.ToUpper(name))
		if err != nil || p.String() != name {
			t.Errorf("parsePolicy(%q) = %v, %v", strings.ToUpper(name), p, err)
		}
	}
	if got := orList(policyNames()); got != "noeviction, volatile-ttl or allkeys-lru" {
		t.Errorf("policy names = %q", got)
	}
}
