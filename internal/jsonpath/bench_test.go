package jsonpath

import "testing"

// BenchmarkLookup reads passport.user from an express-session value of
// about 512 bytes, as the user index does on every SET: with a user, before
// login (no passport field: the cookie and csrfSecret read, then the rest
// searched for user"), with the user after a 400-byte cart (most of the
// value read before the id), and for a gob value (rejected at its first
// byte).
func BenchmarkLookup(b *testing.B) {
	paths, err := Parse("passport.user")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, value string }{
		{"user", session},
		{"user late", lateSession},
		{"anonymous", anonymous},
		{"gob", "\x1e\xff\x81\x03\x01\x01\x0bsessionData\x01\xff\x82\x00\x01\x02\x01\x08Deadline"},
	} {
		value := []byte(c.value)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				Lookup(value, paths)
			}
		})
	}
}
