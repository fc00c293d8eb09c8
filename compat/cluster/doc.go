// Package cluster tests sessiond clusters made of real sessiond processes
// on loopback (and, as root, in network namespaces): replication through
// every node, kill -9 under load, SIGSTOP past failure detection, a join
// under writes, a partition that heals, and nodes that must not get in.
// Clients are go-redis, as an application's would be.
package cluster
