// express-session with connect-memcached 3 (the node `memcached` client),
// as its README sets it up: the store for apps that keep sessions in
// memcached, pointed at sessiond's memcached listener. MEMCACHED names the
// server (host:port: the client cannot reach a Unix socket); PREFIX is
// optional.
import connectMemcached from "connect-memcached"
import express from "express"
import session from "express-session"
import {routes} from "./express-routes.js"

const MemcachedStore = connectMemcached(session)

const app = express()
app.use(
  session({
    store: new MemcachedStore({
      hosts: [process.env.MEMCACHED || "127.0.0.1:11211"],
      prefix: process.env.PREFIX || "",
      // Fail a request at once instead of retrying a dead server for
      // minutes (the client's defaults are for caches, not sessions).
      retries: 0,
      timeout: 2000,
    }),
    secret: process.env.SESSION_SECRET || "keyboard cat",
    resave: false, // unchanged sessions are touched (a full set), not rewritten
    saveUninitialized: false,
  }),
)
routes(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
