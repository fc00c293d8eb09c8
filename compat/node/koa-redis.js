// koa 2 with koa-generic-session and koa-redis 4 (which brings ioredis 4).
// REDIS_URL (redis://host:port) or REDIS_SOCKET (a Unix socket path) names
// the server; REDIS_PASSWORD and PREFIX are optional.
import Koa from "koa"
import session from "koa-generic-session"
import redisStore from "koa-redis"
import {routes} from "./koa-routes.js"

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

routes(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
