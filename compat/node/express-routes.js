// The routes node_test.go drives, shared by the express apps. Every
// response is JSON: {id, data} for session routes, the store's answer for
// /store/* routes.

// data is the session's contents without express-session's cookie.
function data(req) {
  const {cookie, ...rest} = req.session
  return rest
}

export function routes(app) {
  // /set?k=K&v=V[&ttl=MS] stores k=v in the session; ttl sets the cookie's
  // maxAge, which connect-redis turns into the key's TTL.
  app.all("/set", (req, res) => {
    const {k, v, ttl} = req.query
    req.session[k] = v
    if (ttl) req.session.cookie.maxAge = Number(ttl)
    res.json({id: req.sessionID, data: data(req)})
  })

  app.get("/get", (req, res) => res.json({id: req.sessionID, data: data(req)}))

  // /touch reads without modifying: with resave false, express-session
  // calls store.touch, which sends EXPIRE.
  app.get("/touch", (req, res) => res.json({id: req.sessionID, data: data(req)}))

  app.get("/destroy", (req, res, next) => {
    const id = req.sessionID
    req.session.destroy((err) => (err ? next(err) : res.json({id, data: {}})))
  })

  for (const op of ["all", "length", "ids", "clear"]) {
    app.get(`/store/${op}`, (req, res, next) => {
      req.sessionStore[op]((err, result) => (err ? next(err) : res.json({[op]: result ?? null})))
    })
  }

  app.use((err, req, res, next) => {
    console.error(err)
    res.status(500).json({error: String(err && err.message)})
  })
}
