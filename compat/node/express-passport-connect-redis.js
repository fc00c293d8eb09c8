// express-session with connect-redis 9 and node-redis 5, and passport with
// passport-local (passport-users.js), set up as their READMEs do: the login
// stack whose sessions sessiond indexes by user (--user-field
// passport.user). REDIS_URL names the server and REDIS_PASSWORD is
// optional; the prefix is connect-redis's default, sess:, which
// /logout-others names.
import {RedisStore} from "connect-redis"
import express from "express"
import session from "express-session"
import passport from "passport"
import {createClient} from "redis"
import {errors, passportRoutes} from "./express-passport-routes.js"
import {usePassport} from "./passport-users.js"

const client = createClient({url: process.env.REDIS_URL, password: process.env.REDIS_PASSWORD || undefined})
client.on("error", (err) => console.error("redis:", err.message))
await client.connect()

usePassport(passport)
const app = express()
app.use(
  session({
    store: new RedisStore({client}),
    secret: process.env.SESSION_SECRET || "keyboard cat",
    resave: false,
    saveUninitialized: false,
  }),
)
passportRoutes(app, passport)

// Log out everywhere: every session of the user, this one too.
app.post("/logout-everywhere", async (req, res) => {
  if (!req.user) return res.status(401).json({revoked: 0})
  const revoked = await client.sendCommand(["SESSION.REVOKE", String(req.user.id)])
  res.json({revoked})
})

// Log out everywhere else: every session of the user but this one.
app.post("/logout-others", async (req, res) => {
  if (!req.user) return res.status(401).json({revoked: 0})
  const revoked = await client.sendCommand(['SESSION.REVOKE', String(req.user.id), 'EXCEPT', 'sess:' + req.sessionID])
  res.json({revoked})
})
errors(app)

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
