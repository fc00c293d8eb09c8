// express-session with connect-memcached 3 (the node `memcached` client)
// and passport with passport-local (passport-users.js): the login stack
// of an app that keeps its sessions in memcached, pointed at sessiond's
// memcached listener, whose sessions the Redis protocol, the HTTP listener
// and the CLI revoke in the same store. MEMCACHED names the server
// (host:port); PREFIX is optional.
import connectMemcached from "connect-memcached"
import express from "express"
import session from "express-session"
import passport from "passport"
import {errors, passportRoutes} from "./express-passport-routes.js"
import {usePassport} from "./passport-users.js"

const MemcachedStore = connectMemcached(session)

usePassport(passport)
const app = express()
app.use(
  session({
    store: new MemcachedStore({
      hosts: [process.env.MEMCACHED || "127.0.0.1:11211"],
      prefix: process.env.PREFIX || "",
      retries: 0, // as in express-connect-memcached.js: fail at once, not for minutes
      timeout: 2000,
    }),
    secret: process.env.SESSION_SECRET || "keyboard cat",
    resave: false,
    saveUninitialized: false,
  }),
)
passportRoutes(app, passport)
errors(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
