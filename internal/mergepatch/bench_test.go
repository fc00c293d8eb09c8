package mergepatch

import "testing"

// BenchmarkApply patches one cart field of a 512-byte express-session
// value, the shape of the server's merge command.
func BenchmarkApply(b *testing.B) {
	target := []byte(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-12-07T06:00:00.000Z","secure":true,` +
		`"httpOnly":true,"path":"/","sameSite":"lax"},` +
		`"passport":{"user":"6f1c2a9e-4b7d-4e11-9a3c-2d5e8f0b7c41"},` +
		`"cart":{"id":"c-88213","items":[{"sku":"BOOK-0451","qty":1,"price":12.5},` +
		`{"sku":"MUG-0007","qty":2,"price":8},{"sku":"PEN-1200","qty":10,"price":1.2}],` +
		`"total":40.5,"currency":"EUR","coupon":null},` +
		`"prefs":{"theme":"dark","lang":"fr-FR","tz":"Europe/Paris"},` +
		`"csrfSecret":"Hk3mQ0v9xZr2LbP7sT1wYc5N","views":17,"lastSeen":1796537564}`)
	if len(target) < 500 || len(target) > 524 {
		b.Fatalf("target is %d bytes, want about 512", len(target))
	}
	patch := []byte(`{"cart":{"total":52.5}}`)
	b.Run("Apply", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(target)))
		for b.Loop() {
			if _, err := Apply(target, patch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendApply", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(target)))
		dst := make([]byte, 0, 1024)
		for b.Loop() {
			var err error
			if dst, err = AppendApply(dst[:0], target, patch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
