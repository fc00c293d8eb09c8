// The users the passport apps log in, and the passport setup they share:
// passport-local checking a password against two users kept in memory, and
// serializeUser storing the user's id, which passport writes to the session
// at passport.user, the field sessiond's user index reads (--user-field).
// alice's id is a string and bob's a number, the two kinds of id apps use.
import {Strategy as LocalStrategy} from "passport-local"

const users = [
  {id: "alice", username: "alice", password: "alice's password"},
  {id: 42, username: "bob", password: "bob's password"},
]

// usePassport sets up passport (express's, or koa-passport, which wraps
// its own copy) with the users above.
export function usePassport(passport) {
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = users.find((u) => u.username === username)
      done(null, user && user.password === password ? user : false)
    }),
  )
  passport.serializeUser((user, done) => done(null, user.id))
  // A session of a user who no longer exists is a logged-out one.
  passport.deserializeUser((id, done) => done(null, users.find((u) => u.id === id) || false))
}
