package ops

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// auth asks for Config.RequirePass, if set, before h: as the password of
// HTTP basic authentication, whatever the user name (Redis's AUTH with one
// argument is the default user's), or as a bearer token.
func (s *Server) auth(h http.Handler) http.Handler {
	if s.cfg.RequirePass == "" {
		return h
	}
	want := []byte(s.cfg.RequirePass)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got string
		if _, pass, ok := r.BasicAuth(); ok {
			got = pass
		} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = tok
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="sessiond", charset="UTF-8"`)
			http.Error(w, "401 unauthorized: give the --requirepass password (basic authentication, any user name, or a bearer token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
