// Package jsonpath reads one field of a JSON session value, such as the
// user id that the user index of issue 15 (--user-field) files sessions
// under, in one pass over the value and without decoding it.
//
// express-session with passport, the usual login stack of express and koa
// apps, stores a session as
//
//	{"cookie":{"originalMaxAge":86400000,...},"passport":{"user":"ID"}}
//
// and the default --user-field, "passport.user", names the "ID" in it.
// Lookup runs on every write of a session, so it allocates nothing unless
// the id it returns has to be unescaped.
//
// # Paths
//
// Parse reads a spec: a comma-separated list of paths, each a dot-separated
// list of object keys, such as "passport.user,user.id". A backslash makes
// the next character part of the key: "\." is a dot, "\," a comma, "\\" a
// backslash and "\ " a space; a backslash before anything else is an
// error. Spaces around a path are ignored ("a.b, c" is "a.b" and "c"), but
// spaces inside it, also around a dot, are part of the keys. A key
// cannot be empty, and the spec must be valid UTF-8. An empty spec, or
// one of spaces only, has no paths. A key is matched against the object
// key as encoding/json decodes it, exactly: case matters, and "\u0061"
// in the JSON is "a". There are no array indexes: a key "0" is an object
// key. A spec holds at most MaxSpecLen bytes and MaxPaths paths of at most
// MaxDepth keys each.
//
// # Rules
//
// Lookup answers what this Go code would, with encoding/json, for the
// first path in the list that yields an id, but for one departure, below:
//
//	var v any
//	if !json.Valid(value) { return nil, false }
//	d := json.NewDecoder(bytes.NewReader(value))
//	d.UseNumber()
//	d.Decode(&v)
//	for _, key := range path {
//		m, ok := v.(map[string]any)
//		if !ok { return nil, false }
//		if v, ok = m[key]; !ok { return nil, false }
//	}
//	switch v := v.(type) {
//	case string:
//		return []byte(v), true
//	case json.Number:
//		return []byte(v), true
//	}
//	return nil, false
//
// Spelled out:
//
//   - The value must be one valid JSON document (RFC 8259, with
//     encoding/json's nesting limit of 10,000) whose top level is an object,
//     optionally surrounded by whitespace, as far as Lookup reads it (see
//     the departure). Anything else, such as a gob value from scs, a value
//     cut before the id, a top-level array, a byte-order mark, or an object
//     nested 10,001 deep before the id, has no id.
//   - A path that reaches a string yields its contents, unescaped: "a\u0062"
//     is "ab". Invalid UTF-8 in the string and \u escapes of unpaired
//     surrogates each become U+FFFD, as encoding/json does. The empty string
//     is an id of zero bytes: whether that names a user is the caller's call.
//   - A path that reaches a number yields the number's text as written,
//     "1.5e3" is "1.5e3", as json.Number keeps it.
//   - A path that reaches an object, an array, true, false or null, that
//     runs into a non-object on the way, or that is missing, yields nothing.
//
// The departure: Lookup stops reading at the id of the first path. It
// reads the value from its start, validating all it reads, and as soon as
// the first path (the first with keys) leads to a string or a number, and
// the ',' or '}' that must follow it has been read, that is the answer: the
// rest of the value is not read. So:
//
//   - Bytes after the id are not seen. {"passport":{"user":"u1"}} x, or a
//     value cut or broken after the id's ',' or '}', yields "u1", where
//     encoding/json rejects the value. A value cut right after the id
//     (before a ',' or '}') yields nothing: the id might have been cut.
//   - Each path's first id is final: a later duplicate of a key along the
//     path is not considered. {"a":"1","a":"2"} yields "1" at "a", where
//     encoding/json keeps the last key, "2". An earlier occurrence whose
//     value yields nothing does not end the search: {"a":{},"a":{"b":"x"}}
//     yields "x" at "a.b", as for encoding/json.
//   - A later path's id is the answer only once the whole value has been
//     read and found valid, since the first path might yield an id
//     further on.
//
// For a value that encoding/json accepts and that has no key twice in an
// object along a path, the answer is encoding/json's. Why depart at all:
// values written by JSON.stringify, as express-session and the other
// session middleware write them, never have duplicate keys or bytes after
// the value, so the departure changes no answer for them; while Lookup runs
// on every write of a session, and reading the bytes after the id, often
// most of the value, would cost every write only to reject values that no
// session store client writes.
//
// # Cost
//
// Lookup reads the value up to the id of the first path, or to its end
// when that path has no id, validating what it reads: its cost grows with
// the id's position in the value, and passport's field comes after those
// the app set before login. It skips reading only where the answer cannot
// depend on it: a value whose first non-space byte is not '{' (a gob
// value, for one) or an empty list of paths is rejected at once. And when
// the scan, past the first member of the top-level object (the cookie, in
// express-session's values), comes to an object or an array at the top
// level without having found an id, it stops there if the rest of the
// value has no backslash and the last key of each path, followed by its
// closing quote, occurs nowhere in it (a session before login has no
// `user"`): the bytes package finds that out several times faster than the
// scan reads. Searching before reading the cookie and the members after it
// would spare more of a session without an id, but make every session with
// one pay for the search up to its id. The scan is iterative, so deep
// nesting costs no stack, and its time is linear in the length of the
// value whatever the value or the paths. It allocates only when the id
// holds escapes or invalid UTF-8; otherwise the id is a sub-slice of the
// value.
package jsonpath
