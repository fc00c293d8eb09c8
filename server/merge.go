package server

import (
	"errors"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/mergepatch"
)

// SESSION.MERGE key patch [EX seconds | PX ms | EXAT unix | PXAT unix-ms | KEEPTTL]
//
// applies a JSON merge patch (RFC 7386, internal/mergepatch) to the session
// at key, under the key's lock, and answers the resulting session. A
// request that sends only what it changed (the cart, a preference) never
// overwrites another request's change to a different field of the same
// session, as a whole-value SET does; two changes of the same field: the
// later wins. A missing key starts from nothing, so the patch's members
// (without its nulls) become the session. The session keeps its expiry
// unless EX, PX, EXAT or PXAT gives one (a new session then has none).
// The result is an ordinary write: it replicates, and persists, as the
// resulting value. A patch that is not JSON is refused, and so is a
// session whose value is not JSON (one stored by another library): both
// change nothing.
func cmdSessionMerge(c *respConn, args [][]byte) {
	var exp expiry
	for i := 3; i < len(args); i++ {
		a := args[i]
		switch {
		case exp.keepTTLOption(a):
		case exp.option(a, args, i):
			i++
		default:
			c.w.Error(errSyntax)
			return
		}
	}
	if !exp.resolve(c, "session.merge") {
		return
	}
	patch := args[2]
	var result []byte
	_, err := c.s.st.Update(str(args[1]), func(e *sessiond.Entry) error {
		var target []byte
		if e.Found() {
			target = e.Value()
		}
		var err error
		result, err = mergepatch.AppendApply(c.scratch[:0], target, patch)
		if err != nil {
			return err
		}
		c.scratch = result
		e.Set(result)
		switch { // without either, Set keeps the session's expiry
		case exp.ttl > 0:
			e.SetExpires(e.Now().Add(exp.ttl))
		case exp.at != 0:
			e.SetExpires(expiryTime(exp.at))
		}
		return nil
	})
	var me *mergepatch.Error
	switch {
	case errors.As(err, &me) && errors.Is(err, mergepatch.ErrTarget):
		c.w.Error("WRONGTYPE the session's value is not JSON: " + me.Error())
	case errors.As(err, &me):
		c.w.Error("ERR " + me.Error())
	case err != nil:
		c.storeError(err)
	default:
		c.w.Bulk(result)
	}
}
