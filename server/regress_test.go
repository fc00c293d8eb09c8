package server_test

import "testing"

// Regression, found in review. EXPIRE with a time more than ~292 years ahead is accepted (as Redis does),
// but TTL/PTTL then report a negative number for a live key: the store's
// TTL overflows time.Duration.
func TestRegressTTLFarFuture(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	c.expect("+OK\r\n", "SET", "k", "v")
	c.expect(":1\r\n", "EXPIRE", "k", "10000000000")
	c.expect(":10000000000\r\n", "TTL", "k")
}

// Regression, found in review. SET ... PX 9223372036854 replies OK but deletes the key (expiresAt's
// rounding overflows into "already expired"); Redis stores it.
func TestRegressSetPXMaxDeletes(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	c.expect("+OK\r\n", "SET", "k", "old")
	c.expect("+OK\r\n", "SET", "k", "new", "PX", "9223372036854")
	c.expect("$3\r\nnew\r\n", "GET", "k")
}
