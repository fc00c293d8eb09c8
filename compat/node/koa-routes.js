// The routes node_test.go drives, shared by the koa apps. Every response is
// JSON {id, data}. koa-generic-session's stores have no all/length/ids/clear,
// so there are no /store routes.
export function routes(app) {
  app.use(async (ctx) => {
    const {k, v, ttl} = ctx.query
    switch (ctx.path) {
      case "/set": // stores k=v; ttl (ms) sets the cookie's maxAge and so the key's TTL
        ctx.session[k] = v
        if (ttl) ctx.session.cookie.maxAge = Number(ttl)
        break
      case "/get":
        break
      case "/touch": // koa-generic-session has no touch: a forced save renews the TTL
        ctx.sessionSave = true
        break
      case "/destroy":
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
}
