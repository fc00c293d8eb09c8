package ops

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
)

// statusPage is the status page: one file, its style and script inline,
// that fetches nothing but /status.json.
//
//go:embed status.html
var statusPage []byte

// pagePolicy is the page's Content-Security-Policy: its own inline style
// and script (by hash) and fetches to this origin, nothing else; a
// member's name that held markup could not run it, nor could the page
// load anything from elsewhere.
func pagePolicy(page []byte) string {
	return "default-src 'none'; " +
		"script-src " + inlineHash(page, "script") + "; " +
		"style-src " + inlineHash(page, "style") + "; " +
		"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// inlineHash returns the CSP source of the page's first element tag, by
// the SHA-256 of its text; 'none' if the page has none.
func inlineHash(page []byte, tag string) string {
	_, rest, ok := bytes.Cut(page, []byte("<"+tag+">"))
	if !ok {
		return "'none'"
	}
	text, _, ok := bytes.Cut(rest, []byte("</"+tag+">"))
	if !ok {
		return "'none'"
	}
	sum := sha256.Sum256(text)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// page serves the status page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", s.policy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(statusPage)
}
