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

// minSessionValue is the least value size that holds a session's JSON;
// below it a value is the plain pattern.
const minSessionValue = 300

// field is a variable part of a session value: length bytes at offset,
// hex or decimal digits.
type field struct {
	offset, length int
	hex            bool
}

// sessionValue returns a session value of exactly n bytes (n at least
// minSessionValue) and its variable fields.
func sessionValue(n int) ([]byte, []field) {
	var b strings.Builder
	var fields []field
	dec := func(k int) { fields = append(fields, field{b.Len(), k, false}); b.WriteString(strings.Repeat("0", k)) }
	hex := func(k int) { fields = append(fields, field{b.Len(), k, true}); b.WriteString(strings.Repeat("0", k)) }
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
	hex(24)
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

// putFields rewrites the variable fields of a session value at v for
// session number k.
func putFields(v []byte, fields []field, k uint64) {
	z := mix64(k ^ 0x5851f42d4c957f2d)
	for _, f := range fields {
		dst := v[f.offset : f.offset+f.length]
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
