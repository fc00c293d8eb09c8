// express-session with connect-redis 7 and ioredis 5. REDIS_URL
// (redis://host:port, or rediss:// for TLS) or REDIS_SOCKET (a Unix socket
// path) names the server; REDIS_PASSWORD and PREFIX are optional. Over TLS,
// REDIS_TLS_CA names the CA file to trust, and REDIS_TLS_CERT and
// REDIS_TLS_KEY the client's certificate and key files.
import RedisStore from "connect-redis-7"
import express from "express"
import session from "express-session"
import Redis from "ioredis"
import {readFileSync} from "node:fs"
import {routes} from "./express-routes.js"

const file = (name) => (process.env[name] ? readFileSync(process.env[name]) : undefined)
const password = process.env.REDIS_PASSWORD || undefined
const tls = process.env.REDIS_TLS_CA
  ? {ca: file("REDIS_TLS_CA"), cert: file("REDIS_TLS_CERT"), key: file("REDIS_TLS_KEY")}
  : undefined
const client = process.env.REDIS_SOCKET
  ? new Redis({path: process.env.REDIS_SOCKET, password})
  : new Redis(process.env.REDIS_URL, {password, tls})
// ioredis connects in the background and retries forever; wait for its
// ready check (INFO) so that a server it cannot use fails the start.
await new Promise((resolve, reject) => {
  client.once("ready", resolve)
  client.once("error", reject)
})
client.on("error", (err) => console.error("redis:", err.message))

const app = express()
app.use(
  session({
    store: new RedisStore({client, prefix: process.env.PREFIX || "sess:"}),
    secret: process.env.SESSION_SECRET || "keyboard cat",
    resave: false,
    saveUninitialized: false,
  }),
)
routes(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
