// express-session with connect-memcached 3 (connect-memcached-store.js)
// and passport with passport-local (passport-users.js): the login stack of
// an app that keeps its sessions in memcached, pointed at sessiond's
// memcached listener, whose sessions the Redis protocol, the HTTP listener
// and the CLI revoke in the same store.
import express from "express"
import session from "express-session"
import passport from "passport"
import {memcachedStore} from "./connect-memcached-store.js"
import {errors, passportRoutes} from "./express-passport-routes.js"
import {usePassport} from "./passport-users.js"

usePassport(passport)
const app = express()
app.use(
  session({
    store: memcachedStore(session),
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
