package load

import (
	"fmt"
	"strings"
)

// A session value as express-session stores one through connect-redis
// (JSON.stringify of the session): the cookie, a passport login, a CSRF
// secret, a cart, padded to the value size asked for. Its variable fields
// (user id, secret, times, cart lines) are rewritten for every session
// from its number, so that no two sessions are alike, yet they share their
// structure as a real store's sessions do: a compressor sees what it would
// in production, no more (one repeated value) and no less (random bytes).
// The user id (passport.user) is that of a user number (SessionUser), which
// Config.Users and Config.Rewrite choose; the other fields vary apart
// from it.

// minSessionValue is the least value size that holds a session's JSON;
// below it a value is the plain pattern.
const minSessionValue = 300

// field is a variable part of a session value: length bytes at offset,
// hex or decimal digits.
type field struct {
	offset, length int
	hex            bool
	// user marks the user id, which putFields fills from the user's
	// number rather than from the session's.
	user bool
}

// sessionValue returns a session value of exactly n bytes (n at least
// minSessionValue) and its variable fields.
func sessionValue(n int) ([]byte, []field) {
	var b strings.Builder
	var fields []field
	dec := func(k int) {
		fields = append(fields, field{offset: b.Len(), length: k})
		b.WriteString(strings.Repeat("0", k))
	}
	hex := func(k int) {
		fields = append(fields, field{offset: b.Len(), length: k, hex: true})
		b.WriteString(strings.Repeat("0", k))
	}
	b.WriteString(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-0`)
	dec(1)
	b.WriteString(`T`)
	dec(2)
	b.WriteString(`:`)
	dec(2)
	b.WriteString(`:`)
	dec(2)
	b.WriteString(`.`)
	dec(3)
	b.WriteString(`Z","secure":false,"httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":"`)
	fields = append(fields, field{offset: b.Len(), length: userDigits, hex: true, user: true})
	b.WriteString(strings.Repeat("0", userDigits))
	b.WriteString(`"},"csrfSecret":"`)
	hex(32)
	b.WriteString(`","lastSeen":17`)
	dec(11)
	b.WriteString(`,"cart":[`)
	const tail = `],"flash":{},"pad":""}`
	const item = len(`{"sku":"SKU-00000","qty":0,"price":1000},`)
	for first := true; b.Len()+item+len(tail) <= n; first = false {
		if !first {
			b.WriteString(`,`)
		}
		b.WriteString(`{"sku":"SKU-`)
		dec(5)
		b.WriteString(`","qty":`)
		dec(1)
		b.WriteString(`,"price":1`) // a JSON number has no leading zero
		dec(3)
		b.WriteString(`}`)
	}
	b.WriteString(`],"flash":{},"pad":"`)
	b.WriteString(strings.Repeat("=", max(0, n-b.Len()-2)))
	b.WriteString(`"}`)
	if b.Len() != n {
		panic(fmt.Sprintf("load: a session value of %d bytes came out at %d", n, b.Len()))
	}
	return []byte(b.String()), fields
}

// userDigits is the length of a session's user id: 24 hex digits, as a
// MongoDB ObjectId that passport serializes.
const userDigits = 24

// SessionUser returns the user id (passport.user) of user number n in the
// session values of OpSession: 24 hex digits, distinct for every n.
func SessionUser(n uint64) string {
	var b [userDigits]byte
	putUser(b[:], n)
	return string(b[:])
}

// putUser writes the user id of user number n into dst, userDigits long:
// n scrambled (a bijection on 64 bits) in the last 16 digits, after 8
// digits of a fixed prefix, as ObjectIds of one server share theirs.
func putUser(dst []byte, n uint64) {
	copy(dst, "65a1f0c2")
	z := mix64(n ^ 0x2545f4914f6cdd1d)
	for i := userDigits - 1; i >= 8; i-- {
		dst[i] = hexDigits[z&15]
		z >>= 4
	}
}

// putFields rewrites the variable fields of a session value at v: the
// user id as that of user number user, the others from seed z.
func putFields(v []byte, fields []field, z, user uint64) {
	z = mix64(z ^ 0x5851f42d4c957f2d)
	for _, f := range fields {
		dst := v[f.offset : f.offset+f.length]
		if f.user {
			putUser(dst, user)
			continue
		}
		for i := range dst {
			if i%12 == 0 {
				z = mix64(z + 0x9e3779b97f4a7c15)
			}
			if f.hex {
				dst[i] = hexDigits[z&15]
				z >>= 4
			} else {
				dst[i] = '0' + byte(z%10)
				z /= 10
			}
		}
	}
}

// SessionKey returns the key OpSession writes for session number k:
// sess: and 32 hex digits.
func SessionKey(k uint64) string {
	var b [len(sessionPrefix) + sessionDigits]byte
	copy(b[:], sessionPrefix)
	putHex(b[len(sessionPrefix):], k)
	return string(b[:])
}

// SessionValue returns a value OpSession writes: the session JSON of n
// bytes (n at least 300) whose user id is that of user number user
// (SessionUser), its other variable fields drawn from z.
func SessionValue(n int, z, user uint64) []byte {
	v, fields := sessionValue(max(n, minSessionValue))
	putFields(v, fields, z, user)
	return v
}
