package ops

import (
	"errors"
	"net/http"
	"time"

	"github.com/sessiond/sessiond"
)

// A user's sessions, over HTTP: GET /sessions?user=ID lists them and POST
// /sessions/revoke?user=ID[&except=KEY...] deletes them, from the store as
// the status page reads it. Session keys are session ids, so both routes
// sit behind auth as /metrics does; docs/OPERATIONS.md says so.

// errIndexOff is the reason a store without a user index gives; it reads
// as SESSION.LIST's error does.
const errIndexOff = "the user index is off (start sessiond with --user-field)"

// sessionsDoc is GET /sessions's answer.
type sessionsDoc struct {
	User     string        `json:"user"`
	Sessions []sessionJSON `json:"sessions"` // the most recently written first
}

// sessionJSON is one session of a user.
type sessionJSON struct {
	Key     string `json:"key"`
	TTLMS   int64  `json:"ttl_ms"`  // milliseconds left; -1: no expiry
	Written string `json:"written"` // RFC 3339 to the millisecond, UTC
	Size    int    `json:"size"`    // bytes of the value
}

// revokedDoc is POST /sessions/revoke's answer.
type revokedDoc struct {
	User    string `json:"user"`
	Revoked int    `json:"revoked"`
}

// writtenLayout is RFC 3339 with milliseconds, always three digits.
const writtenLayout = "2006-01-02T15:04:05.000Z07:00"

// userSessions serves GET /sessions?user=ID.
func (s *Server) userSessions(w http.ResponseWriter, r *http.Request) {
	user, ok := userParam(w, r)
	if !ok {
		return
	}
	list, err := s.cfg.Store.UserSessions(user)
	if err != nil {
		storeError(w, err)
		return
	}
	now := time.Now()
	doc := sessionsDoc{User: user, Sessions: make([]sessionJSON, len(list))}
	for i, us := range list {
		ttl := int64(-1)
		if !us.Expires.IsZero() {
			// A session that expires as it is listed has 0 left, not a
			// negative figure that would read as PTTL's "no key".
			ttl = max(us.Expires.Sub(now).Milliseconds(), 0)
		}
		doc.Sessions[i] = sessionJSON{Key: us.Key, TTLMS: ttl, Written: us.Written.UTC().Format(writtenLayout), Size: us.Size}
	}
	writeJSON(w, doc) // no-store: session ids are secrets
}

// revokeSessions serves POST /sessions/revoke?user=ID[&except=KEY...].
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request) {
	user, ok := userParam(w, r)
	if !ok {
		return
	}
	n, err := s.cfg.Store.RevokeUser(user, r.URL.Query()["except"]...)
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, revokedDoc{User: user, Revoked: n})
}

// userParam returns the request's user parameter, or answers 400 without
// one. Only the URL's query is read, never a body: the header limit
// (http.Server.MaxHeaderBytes) bounds it.
func userParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	q := r.URL.Query()
	user := q.Get("user")
	if user == "" {
		http.Error(w, "400 bad request: give the user's id as ?user=ID", http.StatusBadRequest)
		return "", false
	}
	return user, true
}

// storeError answers a store's error: 409 for a store without a user
// index (starting sessiond with --user-field fixes it), 503 for one that
// is loading, closing or cannot write its log (a retry may succeed), 500
// for anything else.
func storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, sessiond.ErrNoUserIndex):
		http.Error(w, "409 conflict: "+errIndexOff, http.StatusConflict)
	case errors.Is(err, sessiond.ErrLoading), errors.Is(err, sessiond.ErrClosed), errors.Is(err, sessiond.ErrNotPersisted):
		http.Error(w, "503 service unavailable: "+err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, "500 internal server error: "+err.Error(), http.StatusInternalServerError)
	}
}
