// The login routes node_test.go drives, shared by the express apps with
// passport (passport-users.js). Every response is JSON {user, id}: the id
// of the logged-in user, or null, and the session id of the request, which
// is the store's key without its prefix.
import express from "express"

// passportRoutes adds, before the app's own routes:
//   POST /login (form fields username, password): logs in; 401 if wrong
//   POST /logout: logs out
//   GET /me: who is logged in; 401 if no one
//   GET /sid: the request's session id, logged in or not
export function passportRoutes(app, passport) {
  app.use(express.urlencoded({extended: false, limit: "4kb"}))
  app.use(passport.session())
  const me = (req) => ({user: req.user ? req.user.id : null, id: req.sessionID})

  app.post("/login", passport.authenticate("local"), (req, res) => res.json(me(req)))
  app.post("/logout", (req, res, next) => req.logout((err) => (err ? next(err) : res.json(me(req)))))
  app.get("/me", (req, res) => res.status(req.user ? 200 : 401).json(me(req)))
  app.get("/sid", (req, res) => res.json(me(req)))
}

// errors answers a failed request with 500 and the error's message.
export function errors(app) {
  app.use((err, req, res, next) => {
    console.error(err)
    res.status(500).json({error: String(err && err.message)})
  })
}
