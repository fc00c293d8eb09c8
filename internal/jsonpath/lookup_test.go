package jsonpath

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// session is an express-session value of about 512 bytes, in the order
// express-session and passport write it: the cookie first, then the fields
// the app set, passport's among them.
const session = `{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-07T06:30:00.000Z",` +
	`"secure":false,"httpOnly":true,"path":"/","sameSite":"lax"},` +
	`"csrfSecret":"Kq3o9VbY2mZ8xW1nT5rE7uI0",` +
	`"passport":{"user":"6571d2c4e13b8a0012f3a9b7"},` +
	`"cart":{"currency":"EUR","items":[` +
	`{"sku":"TSHIRT-BLK-M","name":"Black T-shirt, size M","qty":2,"price":19.99},` +
	`{"sku":"MUG-WHT-330","name":"White mug 330ml","qty":1,"price":8.5},` +
	`{"sku":"SOCKS-3PK","name":"Socks, pack of 3","qty":1,"price":12}],` +
	`"updatedAt":1733466600000},"returnTo":"/checkout"}`

// lateCart is a cart of about 400 bytes, which lateSession writes before
// passport's field.
const lateCart = `"cart":{"currency":"EUR","items":[` +
	`{"sku":"TSHIRT-BLK-M","name":"Black T-shirt, size M","qty":2,"price":19.99},` +
	`{"sku":"MUG-WHT-330","name":"White mug 330ml","qty":1,"price":8.5},` +
	`{"sku":"SOCKS-3PK","name":"Socks, pack of 3","qty":1,"price":12},` +
	`{"sku":"CAP-RED-L","name":"Red cap, size L","qty":1,"price":15.25},` +
	`{"sku":"BAG-TOTE-01","name":"Tote bag, été","qty":3,"price":7}],` +
	`"updatedAt":1733466600000},`

// lateSession is session with passport's field after a 400-byte cart, as
// an app that put things in the session before login writes it: a lookup
// that stops at the id reads most of it.
const lateSession = `{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-07T06:30:00.000Z",` +
	`"secure":false,"httpOnly":true,"path":"/","sameSite":"lax"},` +
	`"csrfSecret":"Kq3o9VbY2mZ8xW1nT5rE7uI0",` + lateCart +
	`"passport":{"user":"6571d2c4e13b8a0012f3a9b7"},"returnTo":"/checkout"}`

// anonymous is session before the user logged in: no passport field.
var anonymous = strings.Replace(session, `"passport":{"user":"6571d2c4e13b8a0012f3a9b7"},`, "", 1)

// lookupCase is a value, a spec and the id Lookup should find. ok false
// means no id.
type lookupCase struct {
	name  string
	value string
	spec  string // "" means passport.user
	id    string
	ok    bool
	// differs says why encoding/json, reading the whole value, answers
	// otherwise: dup (a key twice along the path) or invalid (encoding/json
	// rejects the value, and Lookup does not read where). "" means it gives
	// the same answer.
	differs string
}

// Why encoding/json's answer may differ from Lookup's.
const (
	dup     = "a duplicate key"
	invalid = "invalid JSON"
)

// nest returns s inside n levels of open, with n levels of close after it.
func nest(open, s, close string, n int) string {
	return strings.Repeat(open, n) + s + strings.Repeat(close, n)
}

var lookupCases = []lookupCase{
	// Where the id is.
	{name: "express session", value: session, id: "6571d2c4e13b8a0012f3a9b7", ok: true},
	{name: "anonymous session", value: anonymous},
	{name: "passport after the cart", value: lateSession, id: "6571d2c4e13b8a0012f3a9b7", ok: true},
	{name: "only passport", value: `{"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "passport first", value: `{"passport":{"user":"u1"},"cookie":{"path":"/"}}`, id: "u1", ok: true},
	{name: "empty object", value: `{}`},
	{name: "empty passport", value: `{"passport":{}}`},
	{name: "user at the top only", value: `{"user":"u1","passport":{}}`},
	{name: "passport nested deeper", value: `{"x":{"passport":{"user":"u1"}}}`},
	{name: "user beside passport", value: `{"passport":{"id":"u1"},"user":"u2"}`},
	{name: "other keys around", value: `{"a":{"user":"no"},"passport":{"x":1,"user":"u1","y":[1,{"user":"no"}]},"b":"user"}`, id: "u1", ok: true},
	{name: "empty string id", value: `{"passport":{"user":""}}`, id: "", ok: true},
	{name: "key prefix is not the key", value: `{"passport":{"username":"u1","use":"u2"}}`},
	{name: "keys match exactly, case and all", value: `{"Passport":{"user":"u1"},"passport":{"User":"u2"}}`},
	{name: "single key spec", value: `{"uid":"u1"}`, spec: "uid", id: "u1", ok: true},
	{name: "deep spec", value: `{"a":{"b":{"c":{"d":"x"}}}}`, spec: "a.b.c.d", id: "x", ok: true},
	{name: "deep spec stops short", value: `{"a":{"b":{"c":"x"}}}`, spec: "a.b.c.d"},
	{name: "key with a dot", value: `{"a.b":"x","a":{"b":"y"}}`, spec: `a\.b`, id: "x", ok: true},
	{name: "dotted path is not a dotted key", value: `{"a.b":"x"}`, spec: "a.b"},
	{name: "key with a comma", value: `{"a,b":"x"}`, spec: `a\,b`, id: "x", ok: true},
	{name: "key with a quote", value: `{"a\"b":"x"}`, spec: `a"b`, id: "x", ok: true},
	{name: "key with a control character", value: `{"a\tb":"x"}`, spec: "a\tb", id: "x", ok: true},
	{name: "last key only escaped", value: `{"passport":{"\u0075ser":"u1"}}`, id: "u1", ok: true},
	{name: "last key only in a value", value: `{"passport":{"id":"u1"},"x":"user"}`},
	{name: "last key only in the first member", value: `{"a":{"user":"x"},"b":1}`},
	{name: "later path in the first member", value: `{"a":{"user":"x"},"b":1}`, spec: "passport.user,a.user", id: "x", ok: true},
	{name: "last key escaped after the first member", value: `{"c":1,"passport":{"\u0075ser":"u1"}}`, id: "u1", ok: true},
	{name: "no last key after the first member", value: `{"c":1,"b":{"x":1},"d":2}`},
	{name: "last key escaped after an object", value: `{"c":1,"b":{"x":1},"passport":{"\u0075ser":"u1"}}`, id: "u1", ok: true},
	{name: "last key in an object after the first member", value: `{"c":1,"b":{"user":1},"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "last key in an array after the first member", value: `{"c":1,"b":[{"user":1}],"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "last key after the first member, cut", value: `{"c":1,"passport":{"user"`},
	{name: "last key only as a prefix", value: `{"passport":{"username":"u1"}}`},
	{name: "key with a backslash", value: `{"a\\b":"x"}`, spec: `a\\b`, id: "x", ok: true},
	{name: "key with spaces", value: `{" a ":{"b c":"x"}}`, spec: `\ a\ .b c`, id: "x", ok: true},
	{name: "empty key cannot be named", value: `{"":{"user":"x"}}`, spec: "user"},
	{name: "array index is a key", value: `{"a":{"0":"x"}}`, spec: "a.0", id: "x", ok: true},

	// What is not an id.
	{name: "object at path", value: `{"passport":{"user":{"id":"u1"}}}`},
	{name: "array at path", value: `{"passport":{"user":["u1"]}}`},
	{name: "empty array at path", value: `{"passport":{"user":[]}}`},
	{name: "true at path", value: `{"passport":{"user":true}}`},
	{name: "false at path", value: `{"passport":{"user":false}}`},
	{name: "null at path", value: `{"passport":{"user":null}}`},
	{name: "array on the way", value: `{"passport":[{"user":"u1"}]}`},
	{name: "string on the way", value: `{"passport":"user"}`},
	{name: "number on the way", value: `{"passport":1}`},
	{name: "null on the way", value: `{"passport":null}`},
	{name: "keys inside arrays do not count", value: `{"a":[{"passport":{"user":"no"}}],"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "array of arrays before", value: `{"a":[[],[[{"user":"no"}]],{}],"passport":{"user":"u1"}}`, id: "u1", ok: true},

	// More than one path: the first in the list that yields an id.
	{name: "first path wins", value: `{"userId":"u2","passport":{"user":"u1"}}`, spec: "passport.user,userId", id: "u1", ok: true},
	{name: "second path when the first is missing", value: `{"userId":"u2"}`, spec: "passport.user, userId", id: "u2", ok: true},
	{name: "second path when the first is an object", value: `{"passport":{"user":{}},"userId":7}`, spec: "passport.user,userId", id: "7", ok: true},
	{name: "list order, not value order", value: `{"a":"1","b":"2"}`, spec: "b,a", id: "2", ok: true},
	{name: "prefix path is an object", value: `{"a":{"b":"x"}}`, spec: "a,a.b", id: "x", ok: true},
	{name: "same path twice", value: `{"a":"x"}`, spec: "a,a", id: "x", ok: true},
	{name: "no path matches", value: `{"a":"x"}`, spec: "b,c.d"},

	// Duplicate keys: the first that leads to an id counts, where
	// encoding/json keeps the last.
	{name: "duplicate leaf", value: `{"passport":{"user":"u1","user":"u2"}}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate leaf, last null", value: `{"passport":{"user":"u1","user":null}}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate leaf, last object", value: `{"passport":{"user":"u1","user":{"a":"b"}}}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate leaf, first object", value: `{"passport":{"user":{"a":"b"},"user":"u2"}}`, id: "u2", ok: true},
	{name: "duplicate parent, last empty", value: `{"passport":{"user":"u1"},"passport":{}}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate parent, last other", value: `{"passport":{"user":"u1"},"passport":{"user":"u2"}}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate parent, last scalar", value: `{"passport":{"user":"u1"},"passport":"x"}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate parent, last array", value: `{"passport":{"user":"u1"},"passport":[{"user":"u3"}]}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate parent, first empty", value: `{"passport":{},"passport":{"user":"u2"}}`, id: "u2", ok: true},
	{name: "duplicate through an escape", value: `{"passport":{"user":"u1","us\u0065r":"u2"}}`, id: "u1", ok: true, differs: dup},
	{name: "duplicate deep", value: `{"a":{"b":{"c":"1"},"b":{"d":"2"}}}`, spec: "a.b.c", id: "1", ok: true, differs: dup},
	{name: "duplicate of another path's parent", value: `{"a":{"b":"1"},"c":"2","a":{}}`, spec: "a.b,c", id: "1", ok: true, differs: dup},
	{name: "duplicate of a later path", value: `{"a":"1","a":"2"}`, spec: "x,a", id: "1", ok: true, differs: dup},
	{name: "duplicate of a later path, first null", value: `{"a":null,"a":"2"}`, spec: "x,a", id: "2", ok: true},
	{name: "duplicate elsewhere", value: `{"x":1,"x":2,"passport":{"user":"u1"}}`, id: "u1", ok: true},

	// Lookup stops after the id of the first path, and the ',' or '}' that
	// must follow it: it reads no further.
	{name: "stops after a string id", value: `{"passport":{"user":"u1"},"x":tru}`, id: "u1", ok: true, differs: invalid},
	{name: "stops after a number id", value: `{"passport":{"user":12},"x":-}`, id: "12", ok: true, differs: invalid},
	{name: "stops after space and comma", value: "{\"passport\":{\"user\":\"u1\" \n, x", id: "u1", ok: true, differs: invalid},
	{name: "cut right after a string id", value: `{"passport":{"user":"u1"`},
	{name: "cut right after a number id", value: `{"passport":{"user":12`},
	{name: "cut after space after the id", value: `{"passport":{"user":12 `},
	{name: "garbage right after a string id", value: `{"passport":{"user":"u1"x}}`},
	{name: "garbage right after a number id", value: `{"passport":{"user":12x}}`},
	{name: "colon after the id", value: `{"passport":{"user":"u1":}}`},
	{name: "close of an array after the id", value: `{"passport":{"user":"u1"]}`},
	{name: "first path stops, later garbage", value: `{"userId":"u2","passport":{"user":"u1"}} x`, spec: "passport.user,userId", id: "u1", ok: true, differs: invalid},
	{name: "later path found, then garbage", value: `{"userId":"u2","passport":{}} x`, spec: "passport.user,userId"},
	{name: "later path found, then duplicate", value: `{"userId":"u2","userId":"u3"}`, spec: "passport.user,userId", id: "u2", ok: true, differs: dup},

	// Of the objects and arrays that no path enters, Lookup matches the
	// brackets outside strings, and checks nothing else.
	{name: "brackets in strings off the path", value: `{"c":{"a":"}","b":"][{"},"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "brackets in keys off the path", value: `{"c":[{"}]":1,"[{":2}],"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "escaped quote off the path", value: `{"c":{"a":"\"}"},"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "escaped backslash off the path", value: `{"c":{"a":"\\"},"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "escaped backslash and quote off the path", value: `{"c":{"a":"\\\"}"},"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "objects in an object off the path", value: `{"c":{"a":{"b":{}},"d":{}},"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "arrays in an array off the path", value: `{"c":[[1],[[]],{"a":"]"}],"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "an array with a close in a string, then objects", value: `{"c":[{"a":"]"},{"b":{"c":[]}}],"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "an object tried again after its first close", value: `{"c":{"a":{"b":1},"d":{"e":"}"},"f":{}},"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "syntax error off the path", value: `{"cookie":{"a":tru},"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "garbage before the id", value: `{"a":[1,}],"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "wrong close off the path", value: `{"c":{"a":[},"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "no close off the path", value: `{"c":[1,2},"passport":{"user":"u1"}}`},
	{name: "unclosed off the path", value: `{"c":{"a":1,"passport":{"user":"u1"}}`},
	{name: "unterminated string off the path", value: `{"c":{"a":"x},"passport":{"user":"u1"}}`},
	{name: "syntax error on the path", value: `{"a":tru,"passport":{"user":"u1"}}`},

	// Whitespace.
	{name: "whitespace everywhere", value: " \t\r\n{ \"passport\" :\n{\t\"user\"\r: \"u1\" } , \"x\" : [ 1 , { } ] }\n\t ", id: "u1", ok: true},
	{name: "whitespace in empty containers", value: `{ "a" : [ ] , "b" : { } , "passport" : { "user" : 5 } }`, id: "5", ok: true},
	{name: "form feed is not whitespace", value: "{\f}"},
	{name: "vertical tab is not whitespace", value: "{\"a\":1\v}"},
	{name: "non-breaking space is not whitespace", value: "{\u00a0}"},

	// Strings and escapes.
	{name: "escaped id", value: `{"passport":{"user":"a\u0062"}}`, id: "ab", ok: true},
	{name: "every short escape", value: `{"passport":{"user":"\"\\\/\b\f\n\r\t"}}`, id: "\"\\/\b\f\n\r\t", ok: true},
	{name: "escaped key", value: `{"pass\u0070ort":{"\u0075\u0073\u0065\u0072":"u1"}}`, id: "u1", ok: true},
	{name: "escaped slash in key", value: `{"a\/b":"x"}`, spec: "a/b", id: "x", ok: true},
	{name: "upper-case hex", value: `{"passport":{"user":"\u00E9\u00e9"}}`, id: "éé", ok: true},
	{name: "raw unicode id", value: `{"passport":{"user":"Zoë 名前 😀"}}`, id: "Zoë 名前 😀", ok: true},
	{name: "raw unicode key", value: `{"ключ":{"id":"x"}}`, spec: "ключ.id", id: "x", ok: true},
	{name: "escaped unicode key", value: `{"\u043a\u043b\u044e\u0447":"x"}`, spec: "ключ", id: "x", ok: true},
	{name: "surrogate pair", value: `{"passport":{"user":"\ud83d\ude00"}}`, id: "😀", ok: true},
	{name: "lone high surrogate", value: `{"passport":{"user":"a\ud83db"}}`, id: "a\uFFFDb", ok: true},
	{name: "lone low surrogate", value: `{"passport":{"user":"\ude00"}}`, id: "\uFFFD", ok: true},
	{name: "high surrogate then letter escape", value: `{"passport":{"user":"\ud83d\u0041"}}`, id: "\uFFFDA", ok: true},
	{name: "two high surrogates then low", value: `{"passport":{"user":"\ud83d\ud83d\ude00"}}`, id: "\uFFFD😀", ok: true},
	{name: "low then high surrogate", value: `{"passport":{"user":"\ude00\ud83d"}}`, id: "\uFFFD\uFFFD", ok: true},
	{name: "high surrogate then short escape", value: `{"passport":{"user":"\ud83d\n"}}`, id: "\uFFFD\n", ok: true},
	{name: "escaped NUL", value: `{"passport":{"user":"\u0000"}}`, id: "\x00", ok: true},
	{name: "invalid UTF-8 id", value: "{\"passport\":{\"user\":\"a\xffb\xc3\"}}", id: "a\uFFFDb\uFFFD", ok: true},
	{name: "encoded surrogate is invalid UTF-8", value: "{\"passport\":{\"user\":\"\xed\xa0\x80\"}}", id: "\uFFFD\uFFFD\uFFFD", ok: true},
	{name: "invalid UTF-8 key matches U+FFFD", value: "{\"a\xffb\":\"x\"}", spec: "a\uFFFDb", id: "x", ok: true},
	{name: "U+FFFD key matches U+FFFD", value: `{"a�b":"x"}`, spec: "a\uFFFDb", id: "x", ok: true},
	{name: "DEL is allowed", value: "{\"passport\":{\"user\":\"a\x7f\"}}", id: "a\x7f", ok: true},
	{name: "long id", value: `{"passport":{"user":"` + strings.Repeat("0123456789", 30) + `"}}`, id: strings.Repeat("0123456789", 30), ok: true},
	{name: "long escaped id", value: `{"passport":{"user":"` + strings.Repeat(`\u00e9x`, 30) + `"}}`, id: strings.Repeat("éx", 30), ok: true},
	{name: "quote at every offset", value: `{"k` + `":"v","passport":{"user":"1234567\"89"}}`, id: `1234567"89`, ok: true},
	{name: "invalid escape", value: `{"passport":{"user":"\x41"}}`},
	{name: "invalid escape elsewhere", value: `{"a":"\'","passport":{"user":"u1"}}`},
	{name: "short unicode escape", value: `{"passport":{"user":"\u004"}}`},
	{name: "non-hex unicode escape", value: `{"passport":{"user":"\u00G4"}}`},
	{name: "upper-case U escape", value: `{"passport":{"user":"\U0041"}}`},
	{name: "raw newline in string", value: "{\"passport\":{\"user\":\"a\nb\"}}"},
	{name: "raw tab in key", value: "{\"a\tb\":1,\"passport\":{\"user\":\"u1\"}}"},
	{name: "raw NUL after eight bytes", value: "{\"abcdefghijk\x00\":1,\"passport\":{\"user\":\"u1\"}}"},
	{name: "unterminated string", value: `{"passport":{"user":"u1`},
	{name: "unterminated after escape", value: `{"passport":{"user":"u1\`},

	// Numbers, all of JSON's forms, kept as written.
	{name: "zero", value: `{"passport":{"user":0}}`, id: "0", ok: true},
	{name: "negative zero", value: `{"passport":{"user":-0}}`, id: "-0", ok: true},
	{name: "integer", value: `{"passport":{"user":1234567}}`, id: "1234567", ok: true},
	{name: "negative", value: `{"passport":{"user":-42}}`, id: "-42", ok: true},
	{name: "fraction", value: `{"passport":{"user":3.25}}`, id: "3.25", ok: true},
	{name: "zero fraction", value: `{"passport":{"user":0.000}}`, id: "0.000", ok: true},
	{name: "exponent", value: `{"passport":{"user":1e3}}`, id: "1e3", ok: true},
	{name: "capital exponent with sign", value: `{"passport":{"user":-1.5E+10}}`, id: "-1.5E+10", ok: true},
	{name: "negative exponent", value: `{"passport":{"user":2e-07}}`, id: "2e-07", ok: true},
	{name: "huge integer", value: `{"passport":{"user":123456789012345678901234567890}}`, id: "123456789012345678901234567890", ok: true},
	{name: "out of float range", value: `{"passport":{"user":1e99999}}`, id: "1e99999", ok: true},
	{name: "number at the end", value: `{"passport":{"user":12}}`, id: "12", ok: true},
	{name: "number then space", value: `{"passport":{"user":12 }}`, id: "12", ok: true},
	{name: "leading zero", value: `{"passport":{"user":012}}`},
	{name: "negative leading zero", value: `{"passport":{"user":-01}}`},
	{name: "leading plus", value: `{"passport":{"user":+1}}`},
	{name: "bare minus", value: `{"passport":{"user":-}}`},
	{name: "trailing dot", value: `{"passport":{"user":1.}}`},
	{name: "leading dot", value: `{"passport":{"user":.5}}`},
	{name: "empty exponent", value: `{"passport":{"user":1e}}`},
	{name: "signed empty exponent", value: `{"passport":{"user":1e+}}`},
	{name: "hex", value: `{"passport":{"user":0x1F}}`},
	{name: "NaN", value: `{"passport":{"user":NaN}}`},
	{name: "Infinity", value: `{"passport":{"user":-Infinity}}`},
	{name: "bad number elsewhere", value: `{"a":1.e5,"passport":{"user":1}}`},

	// Values that are not one JSON object.
	{name: "empty value", value: ``},
	{name: "only whitespace", value: " \n"},
	{name: "gob", value: "\x1e\xff\x81\x03\x01\x01\x0bsessionData\x01\xff\x82\x00\x01\x02\x01\x08Deadline"},
	{name: "top-level array", value: `[{"passport":{"user":"u1"}}]`},
	{name: "top-level string", value: `"u1"`, spec: "passport"},
	{name: "top-level number", value: `1`},
	{name: "top-level null", value: `null`},
	{name: "byte-order mark", value: "\ufeff{\"passport\":{\"user\":\"u1\"}}"},
	{name: "trailing garbage", value: `{"passport":{"user":"u1"}} x`, id: "u1", ok: true, differs: invalid},
	{name: "garbage after the id", value: `{"passport":{"user":"u1"}, garbage`, id: "u1", ok: true, differs: invalid},
	{name: "two objects", value: `{"passport":{"user":"u1"}}{}`, id: "u1", ok: true, differs: invalid},
	{name: "trailing NUL", value: "{\"passport\":{\"user\":\"u1\"}}\x00", id: "u1", ok: true, differs: invalid},
	{name: "truncated", value: session[:len(session)-1], id: "6571d2c4e13b8a0012f3a9b7", ok: true, differs: invalid},
	{name: "truncated after the id", value: `{"passport":{"user":"u1"}`, id: "u1", ok: true, differs: invalid},
	{name: "truncated in a key", value: `{"passport":{"user":"u1"},"ca`, id: "u1", ok: true, differs: invalid},
	{name: "trailing comma in object", value: `{"passport":{"user":"u1"},}`, id: "u1", ok: true, differs: invalid},
	{name: "trailing comma in array", value: `{"a":[1,],"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "leading comma", value: `{,"passport":{"user":"u1"}}`},
	{name: "missing comma", value: `{"a":1 "passport":{"user":"u1"}}`},
	{name: "missing colon", value: `{"passport" {"user":"u1"}}`},
	{name: "missing value", value: `{"a":,"passport":{"user":"u1"}}`},
	{name: "single quotes", value: `{'passport':{'user':'u1'}}`},
	{name: "unquoted key", value: `{passport:{"user":"u1"}}`},
	{name: "number key", value: `{1:2,"passport":{"user":"u1"}}`},
	{name: "comment", value: `{/* c */"passport":{"user":"u1"}}`},
	{name: "mismatched close", value: `{"a":[1},"passport":{"user":"u1"}}`},
	{name: "mismatched close of object", value: `{"a":{"b":1],"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "extra close", value: `{"passport":{"user":"u1"}}}`, id: "u1", ok: true, differs: invalid},
	{name: "misspelled true", value: `{"a":tru,"passport":{"user":"u1"}}`},
	{name: "literal run on", value: `{"a":nullx,"passport":{"user":"u1"}}`},
	{name: "capital literal", value: `{"a":True,"passport":{"user":"u1"}}`},
	{name: "truncated literal", value: `{"a":fals`},
	{name: "colon in array", value: `{"a":["b":1],"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},

	// Nesting: encoding/json allows 10,000 levels, arrays and objects alike.
	{name: "10,000 deep arrays", value: `{"d":` + nest("[", "", "]", 9999) + `,"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "10,001 deep arrays", value: `{"d":` + nest("[", "", "]", 10000) + `,"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "10,000 deep objects", value: `{"d":` + nest(`{"a":`, "1", "}", 9999) + `,"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "10,001 deep objects", value: `{"d":` + nest(`{"a":`, "1", "}", 10000) + `,"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "id after 10,000 deep", value: `{"d":` + nest(`[{"x":`, "1", "}]", 4999) + `,"passport":{"user":"u1"}}`, id: "u1", ok: true},
	{name: "id after 10,001 deep", value: `{"d":` + nest(`[{"x":`, "1", "}]", 5000) + `,"passport":{"user":"u1"}}`, id: "u1", ok: true, differs: invalid},
	{name: "deep and unclosed", value: `{"d":` + strings.Repeat("[", 9999) + `,"passport":{"user":"u1"}}`},
	{name: "deep and badly closed", value: `{"d":` + nest("[", "", "]", 200) + strings.Repeat("]", 9799) + `,"passport":{"user":"u1"}}`},
	{name: "10,001 deep after the id", value: `{"passport":{"user":"u1"},"d":` + nest("[", "", "]", 10000) + `}`, id: "u1", ok: true, differs: invalid},
	{name: "deep path beyond 64 levels", value: nest(`{"a":`, `"x"`, "}", 70), spec: strings.Repeat("a.", 15) + "a"},
	{name: "deepest path", value: nest(`{"a":`, `"x"`, "}", 16), spec: strings.Repeat("a.", 15) + "a", id: "x", ok: true},
	{name: "past 128 levels, then an id", value: `{"d":` + nest(`{"a":`, "1", "}", 200) + `,"passport":{"user":"u1"}}`, id: "u1", ok: true},
}

// mustParse returns the paths of spec, passport.user for "".
func mustParse(t testing.TB, spec string) []Path {
	t.Helper()
	if spec == "" {
		spec = "passport.user"
	}
	paths, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestLookup(t *testing.T) {
	for _, c := range lookupCases {
		t.Run(c.name, func(t *testing.T) {
			paths := mustParse(t, c.spec)
			value := []byte(c.value)
			id, ok := Lookup(value, paths)
			if ok != c.ok || string(id) != c.id {
				t.Errorf("Lookup = %q, %v; want %q, %v", id, ok, c.id, c.ok)
			}
			// The table's answers are the rules' and, but where the case
			// says why not, encoding/json's.
			var want []byte
			if c.ok {
				want = []byte(c.id)
			}
			if err := checkLookup(value, paths, want, c.ok); err != nil {
				t.Error(err)
			}
			rid, rok := reference(value, paths)
			same := rok == c.ok && string(rid) == c.id
			switch {
			case c.differs == "" && !same:
				t.Errorf("encoding/json says %q, %v; the table %q, %v", rid, rok, c.id, c.ok)
			case c.differs != "" && same:
				t.Errorf("encoding/json agrees with the table, which says it differs by %s", c.differs)
			case c.differs == dup && (!json.Valid(value) || !dupOnPath(value, paths)):
				t.Errorf("the value is invalid or has no duplicate key along the path")
			case c.differs == invalid && json.Valid(value):
				t.Errorf("the value is valid")
			}
		})
	}
}

func TestLookupNoPaths(t *testing.T) {
	for _, paths := range [][]Path{nil, {}, {{}}} {
		if id, ok := Lookup([]byte(`{"a":"x"}`), paths); ok {
			t.Errorf("Lookup with paths %v = %q, want nothing", paths, id)
		}
	}
}

func TestLookupTooManyPaths(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Lookup with more than MaxPaths paths did not panic")
		}
	}()
	Lookup([]byte(`{}`), make([]Path, MaxPaths+1))
}

// The id aliases the value, but appending to it must not write into the
// rest of the value.
func TestLookupIDCapacity(t *testing.T) {
	value := []byte(`{"passport":{"user":"u1"},"n":12}`)
	for _, spec := range []string{"passport.user", "n"} {
		paths, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		id, ok := Lookup(value, paths)
		if !ok {
			t.Fatalf("%s: no id", spec)
		}
		_ = append(id, "XXXX"...)
		if string(value) != `{"passport":{"user":"u1"},"n":12}` {
			t.Fatalf("%s: appending to the id changed the value to %s", spec, value)
		}
	}
}

func TestLookupAllocs(t *testing.T) {
	// A long last key is looked for with a byte search after the first
	// member.
	long := strings.Repeat("k", 100)
	for _, c := range []struct {
		name   string
		spec   string // "" means passport.user
		value  string
		allocs float64
	}{
		{"plain id", "", session, 0},
		{"number id", "", `{"passport":{"user":42}}`, 0},
		{"unicode id", "", `{"passport":{"user":"Zoë"}}`, 0},
		{"no id", "", anonymous, 0},
		{"escaped key", "", `{"pass\u0070ort":{"user":"u1"}}`, 0},
		{"invalid UTF-8 key", "", "{\"pass\xffport\":{\"user\":\"u1\"}}", 0},
		{"invalid", "", session[:100], 0},
		{"gob", "", "\x1e\xff\x81\x03", 0},
		{"deep", "", `{"d":` + nest("[", "", "]", 5000) + `,"passport":{"user":"u1"}}`, 0},
		{"escaped id", "", `{"passport":{"user":"a\u0062"}}`, 1},
		{"long key absent", "a." + long, anonymous, 0},
		{"long key present", "a." + long, `{"a":{"` + long + `":"x"}}`, 0},
	} {
		paths := mustParse(t, c.spec)
		value := []byte(c.value)
		got := testing.AllocsPerRun(100, func() { Lookup(value, paths) })
		if got != c.allocs {
			t.Errorf("%s: %v allocations per Lookup, want %v", c.name, got, c.allocs)
		}
	}
}

// TestLookupLinear checks that time grows with the length of the value and
// not faster, for the shapes most likely to go wrong: deep nesting, and
// many keys that each match a path.
func TestLookupLinear(t *testing.T) {
	paths, err := Parse("a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a,a.a,a")
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]func(n int) string{
		"deep objects": func(n int) string { return nest(`{"a":`, `"x"`, "}", n) },
		"deep arrays":  func(n int) string { return `{"a":` + nest("[", "", "]", n) + "}" },
		"unclosed":     func(n int) string { return `{"a":` + strings.Repeat(`{"a":[`, n) },
		"many matches": func(n int) string {
			return "{" + strings.Repeat(`"a":{"a":"x"},`, n) + `"b":1}`
		},
		// Each object in the arrays off the path has no close of its own
		// but the value's last byte.
		"unclosed objects off the path": func(n int) string {
			return "{" + strings.Repeat(`"a":[[{]]],`, n) + `"c":1}`
		},
	}
	// The best of a few runs, so that a busy machine does not fail the test.
	best := func(value []byte) time.Duration {
		d := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			for range 10 {
				Lookup(value, paths)
			}
			d = min(d, time.Since(start))
		}
		return d
	}
	for name, shape := range shapes {
		small, large := []byte(shape(400)), []byte(shape(4000))
		ts, tl := best(small), best(large)
		// Linear time makes this about 10; quadratic, about 100.
		if tl > 40*ts {
			t.Errorf("%s: %d bytes took %v, %d bytes %v: not linear", name, len(small), ts, len(large), tl)
		}
	}
}

func TestSkip(t *testing.T) {
	for _, c := range []struct {
		value string
		want  int
	}{
		{`{}`, 2},
		{`[ ]`, 3},
		{`{"a":[1,{"b":null}],"c":"d"} ,"x":1}`, 28},
		{`{ "a" : 1.5e3 , "b" : [ true , false ] }`, 40},
		{`{"a":"}"}}`, 9},
		{`{"a\"}":"\\"}}`, 13},
		{`[[],[[{}]],{"a":"]"}]]`, 21},
		{`{"a":{"b":{}},"c":"}"}}`, 22},
		{`{"a":[}`, 7},        // the first close of its kind, and none of its opens before
		{`{"a":{"b":[}}`, -1}, // an array with no close of its kind
		{`{"a":"}`, -1},
		{`[[]`, -1},
		{`{"a":"\`, -1},
		{`{"a":"b\"`, -1},
		{nest("[", "", "]", 20000), 40000},
	} {
		if got := skip([]byte(c.value), 0, new([2]int)); got != c.want {
			t.Errorf("skip(%q) = %d, want %d", c.value, got, c.want)
		}
	}
	// Every object and array in a valid case of the table ends where
	// encoding/json says.
	for _, c := range lookupCases {
		value := []byte(c.value)
		if len(value) > 4096 || !json.Valid(value) {
			continue // the deep cases would take minutes
		}
		for i := range value {
			if value[i] != '{' && value[i] != '[' {
				continue
			}
			d := json.NewDecoder(bytes.NewReader(value[i:]))
			var v any
			if d.Decode(&v) != nil {
				continue // a bracket in a string
			}
			if got, want := skip(value, i, new([2]int)), i+int(d.InputOffset()); got != want {
				t.Errorf("%s: skip at %d = %d, want %d", c.name, i, got, want)
			}
		}
	}
}

func TestSpecial(t *testing.T) {
	// special and quoteOrBackslash must find exactly the first byte they
	// look for at every offset, for every byte value, whatever follows it.
	for _, f := range []struct {
		name  string
		mask  func(uint64) uint64
		match func(byte) bool
	}{
		{"special", special, func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }},
		{"quoteOrBackslash", quoteOrBackslash, func(c byte) bool { return c == '"' || c == '\\' }},
	} {
		for pos := range 8 {
			for b := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = 'a'
				}
				w[pos] = byte(b)
				for _, after := range []byte{'a', '"', '\\', 0x00, 0xff} {
					for i := pos + 1; i < 8; i++ {
						w[i] = after
					}
					x := uint64(0)
					for i := 7; i >= 0; i-- {
						x = x<<8 | uint64(w[i])
					}
					m := f.mask(x)
					first := 8
					if m != 0 {
						first = 0
						for m&0x80 == 0 {
							m >>= 8
							first++
						}
					}
					want := 8
					for i := range w {
						if f.match(w[i]) {
							want = i
							break
						}
					}
					if first != want {
						t.Fatalf("%s: byte %#x at %d, then %#x: first at %d, want %d", f.name, b, pos, after, first, want)
					}
				}
			}
		}
	}
}

func TestUnquoteMatchesKeyEqual(t *testing.T) {
	for _, raw := range []string{`a\u0062`, "a\xffb", `\ud83d\ude00\ud83d`, `x\/\"\\\b\f\n\r\t`, ""} {
		end, escaped := scanString([]byte(raw+`"`), 0)
		if end != len(raw) {
			t.Fatalf("scanString(%q) = %d, want %d", raw, end, len(raw))
		}
		u := unquote([]byte(raw))
		if !keyEqual([]byte(raw), escaped, string(u)) {
			t.Errorf("keyEqual(%q, %q) = false", raw, u)
		}
		if keyEqual([]byte(raw), escaped, string(u)+"x") || len(u) > 0 && keyEqual([]byte(raw), escaped, string(u[:len(u)-1])) {
			t.Errorf("keyEqual(%q) matches a longer or shorter key", raw)
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if string(u) != want {
			t.Errorf("unquote(%q) = %q, encoding/json says %q", raw, u, want)
		}
	}
}

// A path without keys yields nothing, so Lookup stops at the id of the
// first path that has keys.
func TestLookupStopsAtFirstPathWithKeys(t *testing.T) {
	paths := append([]Path{{}}, mustParse(t, "a")...)
	id, ok := Lookup([]byte(`{"a":"x"},garbage`), paths)
	if !ok || string(id) != "x" {
		t.Errorf("Lookup = %q, %v; want x", id, ok)
	}
}

// checkLookup, which the fuzz target and TestLookup rely on, must reject
// the answers Lookup must not give: it is the test that can fail.
func TestCheckLookupRejects(t *testing.T) {
	for _, c := range []struct {
		name, value, spec string
		id                string
		ok                bool
	}{
		{"wrong id", session, "", "x", true},
		{"no id where there is one", session, "", "", false},
		{"an id where there is none", anonymous, "", "u1", true},
		{"the last duplicate", `{"passport":{"user":"u1","user":"u2"}}`, "", "u2", true},
		{"a later path first", `{"userId":"u2","passport":{"user":"u1"}}`, "passport.user,userId", "u2", true},
		{"an id in a top-level array", `[{"passport":{"user":"u1"}}]`, "", "u1", true},
		{"an id after a byte-order mark", "\ufeff{\"passport\":{\"user\":\"u1\"}}", "", "u1", true},
		{"an id in nothing", ``, "", "", true},
		{"an id not in the value", `{"passport":{"user":"u1"`, "", "u2", true},
		{"part of a string", `{"passport":{"user":"u12"`, "", "u1", true},
		{"part of a number", `{"passport":{"user":123`, "", "12", true},
		{"the end of a number", `{"passport":{"user":123`, "", "23", true},
		{"a number cut at its dot", `{"passport":{"user":1.5`, "", "1", true},
		{"an escaped id as written", `{"passport":{"user":"a\u0062"`, "", `a\u0062`, true},
		{"an id across strings", `{"passport":{"user":"u1"`, "", `user":"u1`, true},
		{"an id with ok false", `{"passport":{"user":"u1"}}`, "", "u1", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			value, paths := []byte(c.value), mustParse(t, c.spec)
			var id []byte
			if c.ok || c.id != "" {
				id = []byte(c.id)
			}
			if err := checkLookup(value, paths, id, c.ok); err == nil {
				t.Errorf("checkLookup accepts %q, %v", c.id, c.ok)
			}
		})
	}
}
