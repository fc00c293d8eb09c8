package server

import (
	"errors"

	"github.com/sessiond/sessiond"
)

// The SESSION.* commands read and revoke a user's sessions through the
// store's user index (sessiond.Options.UserID, --user-field): "log out
// everywhere" and "list my devices" in one command each, exact because
// the store keeps the index on the same path that writes, deletes,
// expires and evicts. SESSION.MERGE (merge.go) is of the same family.

// errUserIndexOff is the reply of a SESSION.* command that reads the user
// index of a store that keeps none.
const errUserIndexOff = "ERR the user index is off (start sessiond with --user-field)"

// userIndexError replies to an error of the store's user-index methods.
func (c *respConn) userIndexError(err error) {
	if errors.Is(err, sessiond.ErrNoUserIndex) {
		c.w.Error(errUserIndexOff)
		return
	}
	c.storeError(err)
}

// SESSION.LIST user
//
// answers the user's live sessions, the most recently written first, each
// a map (a flat field/value array in RESP2, as CLIENT INFO-like replies
// are) of key, ttl (milliseconds left as PTTL counts them, -1 for none),
// written (unix milliseconds of its last write) and size (bytes of its
// value). A user with no session gets an empty array.
func cmdSessionList(c *respConn, args [][]byte) {
	list, err := c.s.st.UserSessions(string(args[1]))
	if err != nil {
		c.userIndexError(err)
		return
	}
	now := c.s.nowMS()
	c.w.Array(len(list))
	for _, s := range list {
		ttl := int64(-1)
		if exp := unixMS(s.Expires); exp != 0 {
			ttl = max(exp-now, 0)
		}
		c.w.Map(4)
		c.w.BulkString("key")
		c.w.BulkString(s.Key)
		c.w.BulkString("ttl")
		c.w.Int(ttl)
		c.w.BulkString("written")
		c.w.Int(s.Written.UnixMilli())
		c.w.BulkString("size")
		c.w.Int(int64(s.Size))
	}
}

// SESSION.COUNT user
//
// answers how many live sessions the user has.
func cmdSessionCount(c *respConn, args [][]byte) {
	n, err := c.s.st.CountUserSessions(string(args[1]))
	if err != nil {
		c.userIndexError(err)
		return
	}
	c.w.Int(int64(n))
}

// SESSION.REVOKE user [EXCEPT key [key ...]]
//
// deletes every live session of the user but the keys after EXCEPT (the
// device the user revokes from), each an ordinary delete: replicated,
// tombstoned and persisted as DEL's is. It answers how many went. A
// session of the user created while it runs may survive it, as one
// created just after would.
func cmdSessionRevoke(c *respConn, args [][]byte) {
	var except []string
	if len(args) > 2 {
		// Everything after EXCEPT is a key, as after MIGRATE's KEYS.
		if len(args) < 4 || !equalFold(args[2], "except") {
			c.w.Error(errSyntax)
			return
		}
		except = make([]string, len(args)-3)
		for i, k := range args[3:] {
			except[i] = string(k)
		}
	}
	n, err := c.s.st.RevokeUser(string(args[1]), except...)
	if err != nil {
		c.userIndexError(err)
		return
	}
	c.w.Int(int64(n))
}
