// koa 2 with koa-generic-session and koa-redis 4 (ioredis 4), and
// koa-passport 6 with passport-local (passport-users.js): the koa login
// stack whose sessions sessiond indexes by user (--user-field
// passport.user). REDIS_URL names the server; REDIS_PASSWORD is optional;
// the prefix is koa-generic-session's default, koa:sess:, which
// /logout-others names. The routes are those of express-passport-routes.js.
import Koa from "koa"
import session from "koa-generic-session"
import passport from "koa-passport"
import redisStore from "koa-redis"
import {usePassport} from "./passport-users.js"

const store = redisStore({url: process.env.REDIS_URL, password: process.env.REDIS_PASSWORD})
await new Promise((resolve, reject) => {
  store.client.once("ready", resolve)
  store.client.once("error", reject)
})
store.client.on("error", (err) => console.error("redis:", err.message))

usePassport(passport)
const app = new Koa()
app.keys = [process.env.SESSION_SECRET || "keyboard cat"]
app.use(async (ctx, next) => {
  try {
    await next()
  } catch (err) {
    console.error(err)
    ctx.status = 500
    ctx.body = {error: String(err && err.message)}
  }
})
app.use(session({store}))
app.use(async (ctx, next) => {
  passportSession(ctx)
  await next()
})
app.use(form)
app.use(passport.initialize())
app.use(passport.session())

const me = (ctx) => ({user: ctx.state.user ? ctx.state.user.id : null, id: ctx.sessionId})
const login = passport.authenticate("local")

app.use(async (ctx, next) => {
  switch (`${ctx.method} ${ctx.path}`) {
    case "POST /login": // 401 from passport if the password is wrong
      return login(ctx, async () => {
        ctx.body = me(ctx)
      })
    case "POST /logout":
      await ctx.logout()
      ctx.body = me(ctx)
      return
    case "GET /me":
      ctx.status = ctx.state.user ? 200 : 401
      ctx.body = me(ctx)
      return
    case "GET /sid":
      ctx.body = me(ctx)
      return
    case "POST /logout-others": {
      // Log out everywhere else: every session of the user but this one.
      if (!ctx.state.user) {
        ctx.status = 401
        ctx.body = {revoked: 0}
        return
      }
      const revoked = await store.client.call("SESSION.REVOKE", String(ctx.state.user.id), "EXCEPT", "koa:sess:" + ctx.sessionId)
      ctx.body = {revoked}
      return
    }
  }
  return next()
})

// passportSession gives ctx.session the regenerate and save that passport
// 0.6 calls on login and logout (koa-generic-session has neither):
// regenerate is koa-generic-session's own, which destroys the stored
// session and starts one under a new id; save does nothing, since
// koa-generic-session saves a changed session when the response is done.
// They are not enumerable, so they are not part of the stored JSON.
function passportSession(ctx) {
  if (!ctx.session) return
  Object.defineProperties(ctx.session, {
    regenerate: {
      configurable: true,
      value: (done) =>
        ctx.regenerateSession().then(() => {
          passportSession(ctx)
          done()
        }, done),
    },
    save: {configurable: true, value: (done) => done()},
  })
}

// form reads a POST's urlencoded body (at most 4 KiB) into
// ctx.request.body, where passport-local finds username and password.
async function form(ctx, next) {
  if (ctx.method === "POST" && ctx.is("application/x-www-form-urlencoded")) {
    let text = ""
    for await (const chunk of ctx.req) {
      text += chunk
      if (text.length > 4096) ctx.throw(413, "form too large")
    }
    ctx.request.body = Object.fromEntries(new URLSearchParams(text))
  }
  await next()
}

const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening ${server.address().port}`)
})
