// Package goclients holds compatibility tests that drive a real server
// process with real Redis clients: go-redis v9 (RESP2 and RESP3, TCP and
// Unix socket, with and without a password, and over TLS with a client
// certificate), scs with its goredisstore, redis-cli (--tls too) and
// redis-benchmark.
//
// The tests run against sessiond by default. With COMPAT_TARGET=redis they
// run against the system's redis-server instead, which is how they are
// checked: every expectation here, error texts included, is what Redis
// 7.0 answers, so sessiond passes only where it behaves as Redis does.
// The tests of sessiond's own commands (SESSION.*) skip there; their COMMAND
// DOCS are checked against the shape of Redis's instead. So do the tests of
// its operator's interfaces to a user's sessions, the `sessiond sessions`
// subcommand and the HTTP routes, which drive the binary over sessions
// go-redis writes.
package goclients
