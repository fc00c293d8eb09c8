// koa 2 with koa-generic-session and a store on the node `memcached`
// client, the shape of the memcached stores koa apps use: get, set with a
// TTL in seconds, destroy. The client stores the session object as JSON
// with flags 2 and parses it back by those flags, so the server must return
// flags unchanged. MEMCACHED names the server (host:port: the client cannot
// reach a Unix socket); PREFIX is optional.
import Koa from "koa"
import session from "koa-generic-session"
import Memcached from "memcached"
import {routes} from "./koa-routes.js"

const client = new Memcached(process.env.MEMCACHED || "127.0.0.1:11211", {retries: 0, timeout: 2000})

// call turns the client's callback API into a promise.
const call = (op, ...args) =>
  new Promise((resolve, reject) => client[op](...args, (err, res) => (err ? reject(err) : resolve(res))))

const store = {
  // ttl is in milliseconds; memcached takes whole seconds.
  get: async (sid) => (await call("get", sid)) || null,
  set: (sid, sess, ttl) => call("set", sid, sess, Math.max(1, Math.ceil(ttl / 1000))),
  destroy: (sid) => call("del", sid),
}

const app = new Koa()
app.keys = [process.env.SESSION_SECRET || "keyboard cat"]
app.use(session({store, prefix: process.env.PREFIX || "koa:sess:"}))

routes(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
