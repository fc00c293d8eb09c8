// Package persist tests sessiond's data directory (--dir) with real
// processes: sessions kept across SIGTERM, SHUTDOWN SAVE and SHUTDOWN
// NOSAVE restarts (over RESP and the memcached protocol, TTLs included),
// kill -9 under a write load with every --appendfsync policy, kill -9 in
// the middle of a snapshot (BGSAVE, and compactions started by
// --auto-aof-rewrite-min-size), a second process refused on a locked
// directory, and clients served while a large directory loads.
//
// # How the tests read the promise
//
// "A crash of the process never loses an acknowledged write" is checked
// with a ledger. Each key is written by one goroutine only, so the order of
// its writes is the order they were sent. A write enters the ledger only
// once its reply came back: the key must then hold that write (a SET's
// value and whether it has a TTL, a DEL's absence) after any restart,
// unless a later write of the key replaced it. The one write a goroutine
// had in flight when the process was killed was never acknowledged; the
// key may hold either its state before that write or after it, and
// nothing else.
//
// Every loop is bounded in count and in time, and every network wait by a
// deadline, so that a server that stops answering fails a test rather than
// hanging it.
package persist
