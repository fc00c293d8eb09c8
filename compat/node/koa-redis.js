// koa 2 with koa-generic-session and koa-redis 4 (which brings ioredis 4).
// REDIS_URL (redis://host:port) or REDIS_SOCKET (a Unix socket path) names
// the server; REDIS_PASSWORD and PREFIX are optional.
import Koa from "koa"
import session from "koa-generic-session"
import redisStore from "koa-redis"

const store = redisStore({
  url: process.env.REDIS_URL,
  path: process.env.REDIS_SOCKET,
  password: process.env.REDIS_PASSWORD,
})
// Wait for ioredis's ready check (INFO) so that a server it cannot use
// fails the start instead of every request.
await new Promise((resolve, reject) => {
  store.client.once("ready", resolve)
  store.client.once("error", reject)
})
store.client.on("error", (err) => console.error("redis:", err.message))

const app = new Koa()
app.keys = [process.env.SESSION_SECRET || "keyboard cat"]
app.use(session({store, prefix: process.env.PREFIX || "koa:sess:"}))

// The routes node_test.go drives; every response is JSON {id, data}.
// koa-redis has no all/length/ids/clear, so there are no /store routes.
app.use(async (ctx) => {
  const {k, v, ttl} = ctx.query
  switch (ctx.path) {
    case "/set": // stores k=v; ttl (ms) sets the cookie's maxAge and so the key's TTL
      ctx.session[k] = v
      if (ttl) ctx.session.cookie.maxAge = Number(ttl)
      break
    case "/get":
      break
    case "/touch": // koa-generic-session has no touch: a forced save (SETEX) renews the TTL
      ctx.sessionSave = true
      break
    case "/destroy": // DEL
      ctx.session = null
      ctx.body = {id: ctx.sessionId, data: {}}
      return
    default:
      ctx.status = 404
      return
  }
  const {cookie, ...data} = ctx.session
  ctx.body = {id: ctx.sessionId, data}
})

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
