// Package load is a load generator for servers that speak the Redis
// protocol (RESP2) or the memcached text protocol (Config.Protocol): it
// keeps N connections, each driven by its own goroutine, sends SET or GET
// (memcached: set or get) at a pipeline depth, and measures throughput,
// round-trip latency and error replies.
//
// It is the engine of bench/loadgen (the command) and of bench/compare,
// which runs it in-process against sessiond and redis-server side by side.
//
// # Basics
//
// A Generator dials its connections once; each Run is one measured phase,
// bounded by a duration, an operation count or both:
//
//	g, err := load.Dial(ctx, load.Config{Addr: "127.0.0.1:6379", Pipeline: 16})
//	...
//	defer g.Close()
//	g.Run(ctx, time.Second, 0)         // warm-up, thrown away
//	res, err := g.Run(ctx, 5*time.Second, 0)
//	fmt.Println(res.OpsPerSec(), res.Latency.Quantile(0.99), res.Errors)
//
// Commands are encoded once per connection; before each round trip only
// the digits of the keys are rewritten. Replies are parsed just enough to
// tell an error from a success and a miss from a hit; a MemcacheReader
// maps memcached's replies onto the same Reply as RESP's, so a Result
// counts both alike.
//
// # Caveats
//
// Traffic goes only to loopback addresses or Unix sockets: Dial refuses
// any other address, and every Run stops by itself (Config.MaxDuration).
// At pipeline depth P a latency sample is one round trip of P commands,
// not one command. An error reply does not stop a Run; it is counted, and a
// benchmark whose Result has Errors > 0 is invalid.
package load
