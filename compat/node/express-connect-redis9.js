// express-session with connect-redis 9 and node-redis 5, unchanged from
// their READMEs: the store sessiond serves to Node applications. Point
// REDIS_URL (redis://host:port, or rediss:// for TLS) or REDIS_SOCKET (a
// Unix socket path) at sessiond or Redis; REDIS_PASSWORD and PREFIX are
// optional, and REDIS_RESP=3 makes node-redis speak RESP3 (HELLO 3) instead
// of RESP2. Over TLS, REDIS_TLS_CA names the CA file to trust, and
// REDIS_TLS_CERT and REDIS_TLS_KEY the client's certificate and key files.
import {RedisStore} from "connect-redis"
import express from "express"
import session from "express-session"
import {readFileSync} from "node:fs"
import {createClient} from "redis"
import {routes} from "./express-routes.js"

const file = (name) => (process.env[name] ? readFileSync(process.env[name]) : undefined)
const client = createClient({
  url: process.env.REDIS_URL,
  socket: process.env.REDIS_SOCKET
    ? {path: process.env.REDIS_SOCKET}
    : process.env.REDIS_TLS_CA
      ? {tls: true, ca: file("REDIS_TLS_CA"), cert: file("REDIS_TLS_CERT"), key: file("REDIS_TLS_KEY")}
      : undefined,
  password: process.env.REDIS_PASSWORD || undefined,
  RESP: process.env.REDIS_RESP ? Number(process.env.REDIS_RESP) : undefined,
})
client.on("error", (err) => console.error("redis:", err.message))
await client.connect()

const app = express()
app.use(
  session({
    store: new RedisStore({client, prefix: process.env.PREFIX || "sess:"}),
    secret: process.env.SESSION_SECRET || "keyboard cat",
    resave: false, // unchanged sessions are touched (EXPIRE), not rewritten
    saveUninitialized: false,
  }),
)
routes(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
