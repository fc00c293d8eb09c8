// The connect-memcached 3 store (the node `memcached` client) of the
// express apps that keep sessions in memcached, as its README sets it up,
// pointed at sessiond's memcached listener. MEMCACHED names the server
// (host:port: the client cannot reach a Unix socket); PREFIX is optional.
import connectMemcached from "connect-memcached"

export function memcachedStore(session) {
  const MemcachedStore = connectMemcached(session)
  return new MemcachedStore({
    hosts: [process.env.MEMCACHED || "127.0.0.1:11211"],
    prefix: process.env.PREFIX || "",
    // Fail a request at once instead of retrying a dead server for
    // minutes (the client's defaults are for caches, not sessions).
    retries: 0,
    timeout: 2000,
  })
}
