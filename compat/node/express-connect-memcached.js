// express-session with connect-memcached 3 (connect-memcached-store.js):
// the store for apps that keep sessions in memcached, pointed at sessiond's
// memcached listener.
import express from "express"
import session from "express-session"
import {memcachedStore} from "./connect-memcached-store.js"
import {routes} from "./express-routes.js"

const app = express()
app.use(
  session({
    store: memcachedStore(session),
    secret: process.env.SESSION_SECRET || "keyboard cat",
    resave: false, // unchanged sessions are touched (a full set), not rewritten
    saveUninitialized: false,
  }),
)
routes(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
