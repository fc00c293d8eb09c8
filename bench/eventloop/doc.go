// Command eventloop is an experiment, not a server: it measures how little
// CPU per request any server design here could spend, so that sessiond's
// figures can be read against a floor and not only against Redis.
//
// It serves GET, SET and PING over RESP from a sessiond.Store, the way
// Redis serves clients: one thread, one level-triggered epoll set, and per
// request one read, one write and a share of one epoll_wait; no goroutine
// per connection, so no extra read that finds the socket empty and no
// scheduler wake-ups. Nothing else is served, nothing is bounded, and it
// runs on Linux only. It takes sessiond's listener flags, so bench/compare
// runs it in sessiond's place:
//
//	go build -o /tmp/eventloop ./bench/eventloop
//	go run ./bench/compare -phases throughput -sessiond /tmp/eventloop
//
// The table then says "sessiond" for the experiment.
package main
