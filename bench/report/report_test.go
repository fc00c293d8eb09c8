package report

import (
	"slices"
	"testing"
)

func TestCells(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {87123.6, "87,124"}, {1234567, "1,234,567"}, {-1000, "-1,000"}} {
		if got := Thousands(tt.f); got != tt.want {
			t.Errorf("Thousands(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	if got := Ratio(3, 2); got != "1.50×" {
		t.Errorf("Ratio = %q", got)
	}
	if got := Ratio(1, 0); got != "n/a" {
		t.Errorf("Ratio by zero = %q", got)
	}
	if got := Latency(2.345); got != "2.3" {
		t.Errorf("Latency = %q", got)
	}
	if got := Latency(123.4); got != "123" {
		t.Errorf("Latency = %q", got)
	}
}

func TestOneOf(t *testing.T) {
	got, err := OneOf("servers", " redis, sessiond ,", "sessiond", "redis")
	if err != nil || !slices.Equal(got, []string{"sessiond", "redis"}) {
		t.Errorf("OneOf = %q, %v; want sessiond first", got, err)
	}
	if _, err := OneOf("servers", "mysql", "sessiond", "redis"); err == nil {
		t.Error("OneOf took an item it does not allow")
	}
	if _, err := OneOf("servers", ",", "sessiond"); err == nil {
		t.Error("OneOf took an empty list")
	}
}
