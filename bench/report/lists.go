package report

import (
	"fmt"
	"strings"
)

// List splits a comma-separated flag value, dropping empty items.
func List(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// OneOf splits the comma list s given to flag flagName and checks every
// item is allowed, keeping the order of allowed (so that sessiond comes
// first in the tables, and phases run in their order).
func OneOf(flagName, s string, allowed ...string) ([]string, error) {
	got := map[string]bool{}
	for _, f := range List(s) {
		ok := false
		for _, a := range allowed {
			ok = ok || f == a
		}
		if !ok {
			return nil, fmt.Errorf("-%s: %q: want %s", flagName, f, strings.Join(allowed, ", "))
		}
		got[f] = true
	}
	var out []string
	for _, a := range allowed {
		if got[a] {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: empty", flagName)
	}
	return out, nil
}
