package server

import "testing"

// TestExpireHolds: EXPIRE's NX, XX, GT and LT, with no expiry counting as
// infinitely late, as Redis compares them.
func TestExpireHolds(t *testing.T) {
	const now = 1_700_000_000_000
	for _, tt := range []struct {
		name           string
		nx, xx, gt, lt bool
		cur, next      int64 // unix ms; 0 none
		want           bool
	}{
		{name: "no option", cur: now + 1000, next: now + 5000, want: true},
		{name: "NX without expiry", nx: true, cur: 0, next: now + 5000, want: true},
		{name: "NX with expiry", nx: true, cur: now + 1000, next: now + 5000, want: false},
		{name: "XX without expiry", xx: true, cur: 0, next: now + 5000, want: false},
		{name: "XX with expiry", xx: true, cur: now + 1000, next: now + 5000, want: true},
		{name: "GT later", gt: true, cur: now + 1000, next: now + 5000, want: true},
		{name: "GT earlier", gt: true, cur: now + 5000, next: now + 1000, want: false},
		{name: "GT without expiry", gt: true, cur: 0, next: now + 5000, want: false},
		{name: "GT equal", gt: true, cur: now + 1000, next: now + 1000, want: false},
		{name: "GT past the latest kept", gt: true, cur: maxStoredExpiry, next: maxStoredExpiry, want: false},
		{name: "LT earlier", lt: true, cur: now + 5000, next: now + 1000, want: true},
		{name: "LT later", lt: true, cur: now + 1000, next: now + 5000, want: false},
		{name: "LT without expiry", lt: true, cur: 0, next: now + 5000, want: true},
		{name: "LT past", lt: true, cur: now + 1000, next: -1, want: true},
		{name: "XX LT without expiry", xx: true, lt: true, cur: 0, next: now + 5000, want: false},
		{name: "XX GT later", xx: true, gt: true, cur: now + 1000, next: now + 5000, want: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := expireHolds(tt.nx, tt.xx, tt.gt, tt.lt, tt.cur, tt.next); got != tt.want {
				t.Errorf("expireHolds(cur %d, next %d) = %v, want %v", tt.cur, tt.next, got, tt.want)
			}
		})
	}
}
