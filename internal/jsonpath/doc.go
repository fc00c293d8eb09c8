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
// For a value that encoding/json accepts, and that has no key twice in an
// object along a path, Lookup answers what this Go code would, for the
// first path in the list that yields an id:
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
// Spelled out, for such a value:
//
//   - A value whose top level is not an object, such as a top-level array,
//     has no id.
//   - A path that reaches a string yields its contents, unescaped: "a\u0062"
//     is "ab". Invalid UTF-8 in the string and \u escapes of unpaired
//     surrogates each become U+FFFD, as encoding/json does. The empty string
//     is an id of zero bytes: whether that names a user is the caller's call.
//   - A path that reaches a number yields the number's text as written,
//     "1.5e3" is "1.5e3", as json.Number keeps it.
//   - A path that reaches an object, an array, true, false or null, that
//     runs into a non-object on the way, or that is missing, yields nothing.
//
// Any other value, one that is not JSON (a gob value from scs), that
// encoding/json rejects (cut short, with bytes after it, a syntax error
// anywhere, nesting deeper than encoding/json's 10,000 levels, a
// byte-order mark) or that has a key twice along a path, still gets an
// answer, an id or none, of which Lookup promises only this: it does not
// panic, it takes time linear in the length of the value and a bounded
// stack, a value whose first byte that is not a space is not '{' has no
// id, and an id is the text of a number in the value or the contents of a
// string in it, unescaped as above. Which answer follows from how Lookup
// reads (see Cost):
//
//   - It stops at the id of the first path (the first with keys), once the
//     ',' or '}' that must follow the id has been read:
//     {"passport":{"user":"u1"}} x yields "u1". A value cut right after the
//     id, before a ',' or '}', yields nothing: the id might have been cut.
//   - Up to there it checks the syntax of the objects that the paths go
//     through, their keys and values, but not inside the objects and arrays
//     in them that no path enters, of which it only matches the brackets:
//     {"cookie":{"a":tru},"passport":{"user":"u1"}} yields "u1", and so
//     does a value whose cookie nests 10,001 deep, but
//     {"a":tru,"passport":{"user":"u1"}} yields nothing.
//   - With a key twice along a path, the first occurrence that leads to an
//     id counts: {"a":"1","a":"2"} yields "1" at "a", where encoding/json
//     keeps the last key, "2". An earlier occurrence whose value yields
//     nothing does not end the search: {"a":{},"a":{"b":"x"}} yields "x" at
//     "a.b", as for encoding/json.
//   - A later path's id is the answer only once the rest of the value has
//     been read, since the first path might yield an id further on, and
//     only if the top-level object closes with nothing but spaces after it.
//
// Why not check every value: JSON.stringify, with which express-session
// and the other session middleware write sessions, writes valid JSON
// without duplicate keys, for which Lookup's answer is encoding/json's.
// Lookup runs on every write of a session, and most of a session's bytes
// are in the containers no path enters (the cookie, a cart): checking them
// would cost every write only to refuse values that no session store
// client writes. And the worst an invalid value can come to is to be filed
// under the user its path names, which only its writer controls: whoever
// writes a session can as well write a valid one that names that user.
//
// # Cost
//
// Lookup reads the value up to the id of the first path, or to its end
// when that path has no id: its cost grows with the id's position in the
// value, and passport's field comes after those the app set before login.
// It checks the syntax of the objects the paths enter, and skips each
// object or array that no path enters by matching brackets, reading only
// as much of its strings as it takes to tell their brackets and quotes
// from the others. Most of those, as express-session's cookie, hold no
// container of their own kind and no backslash: then the container ends
// at the first close of its kind, if an even number of quotes stands
// before it, which four searches of the bytes package tell, written in
// assembly that reads 16 or 32 bytes a step, about three times faster
// than a loop over the bytes. Other containers are read byte by byte,
// their strings eight bytes at a time. Lookup skips reading only where
// the answer cannot depend on it: a value whose first non-space byte is
// not '{' (a gob value, for one) or an empty list of paths is rejected at
// once. And when the scan, past the first member of the top-level object
// (the cookie, in express-session's values), comes to an object or an
// array at the top level without having found an id, it stops there if
// the rest of the value has no backslash and the last key of each path,
// followed by its closing quote, occurs nowhere in it (a session before
// login has no `user"`): the bytes package finds that out several times
// faster than the scan reads. Searching before reading the cookie and the
// members after it would spare more of a session without an id, but make
// every session with one pay for the search up to its id. The scan is
// iterative and counts the depth of what it skips, so deep nesting costs
// no stack, and its time is linear in the length of the value whatever
// the value or the paths. It allocates only when the id holds escapes or
// invalid UTF-8; otherwise the id is a sub-slice of the value.
package jsonpath
