// Package testkit holds what sessiond's tests share, so that each piece is
// written once: waiting for a condition (Eventually, Poll), a clock that a
// test moves by hand (FakeClock), a loopback port for a server that cannot
// pick its own (FreePort), the fields of an INFO reply (InfoFields), and
// an HTTP client with a cookie jar that acts as a browser in front of the
// web apps whose sessions a test checks (Browser), and certificate
// authorities that issue the certificates of TLS tests (CA), and a buffer
// a test reads while a server writes its log to it (Buffer).
//
// It is for tests only: the root module's tests, the storetest
// conformance suite, and the compat module's tests of real clients, which
// may import it because their import paths lie under the root module's.
// Nothing the sessiond program or the store's library builds imports it.
package testkit
