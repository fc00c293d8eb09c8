package bench

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/bench/loadgen/load"
	"github.com/sessiond/sessiond/internal/jsonpath"
)

// The user index (issue 15) at the store: revoking a user with 100
// sessions, in a store of a million, as "log out everywhere" does.

// revokeStore is a store of revokeUsers users with revokePerUser
// sessions each: express-session JSON of 512 bytes with a passport login
// (bench/loadgen/load's), filed by the server's lookup of passport.user.
// Session k belongs to user k mod revokeUsers, so a user's sessions lie all
// over the store. It is made once for every run of the benchmark, which
// revokes its users in turn (next) and fills it again when all are gone.
type revokeStore struct {
	st   *sessiond.Store
	next int // the next user to revoke; revokeUsers: all are revoked
}

const (
	revokeUsers   = 10_000
	revokePerUser = 100
)

var theRevokeStore *revokeStore

func openRevokeStore(b *testing.B) *revokeStore {
	if theRevokeStore != nil {
		return theRevokeStore
	}
	paths, err := jsonpath.Parse("passport.user")
	if err != nil {
		b.Fatal(err)
	}
	// As cmd/sessiond's --user-field does.
	st, err := sessiond.Open(&sessiond.Options{UserID: func(v []byte) ([]byte, bool) {
		id, ok := jsonpath.Lookup(v, paths)
		return id, ok && len(id) > 0
	}})
	if err != nil {
		b.Fatal(err)
	}
	theRevokeStore = &revokeStore{st: st, next: revokeUsers}
	return theRevokeStore
}

// fill writes every session again.
func (r *revokeStore) fill(b *testing.B) {
	for k := range uint64(revokeUsers * revokePerUser) {
		if err := r.st.Set(load.SessionKey(k), load.SessionValue(512, k, k%revokeUsers), 24*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	r.next = 0
}

// BenchmarkRevokeUser times Store.RevokeUser of a user with 100 sessions
// in a store of 1,000,000 (10,000 users), a different user each time; only
// the revokes are timed, not the refills once every user is gone. It
// reports the sessions revoked per revoke, which must be 100.
func BenchmarkRevokeUser(b *testing.B) {
	r := openRevokeStore(b)
	b.ReportAllocs()
	revoked := 0
	b.ResetTimer()
	for range b.N {
		if r.next == revokeUsers {
			b.StopTimer()
			r.fill(b)
			b.StartTimer()
		}
		n, err := r.st.RevokeUser(load.SessionUser(uint64(r.next)))
		if err != nil {
			b.Fatal(err)
		}
		revoked += n
		r.next++
	}
	b.StopTimer()
	if revoked != b.N*revokePerUser {
		b.Fatalf("revoked %d sessions in %d revokes, want %d each", revoked, b.N, revokePerUser)
	}
	b.ReportMetric(float64(revoked)/float64(b.N), "sessions/op")
}

// BenchmarkUserSessions times Store.UserSessions of a user with 100
// sessions in the same store: the listing a revoke starts with, and what
// "list my devices" costs.
func BenchmarkUserSessions(b *testing.B) {
	r := openRevokeStore(b)
	if r.next == revokeUsers {
		r.fill(b)
	}
	live := revokeUsers - r.next
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		list, err := r.st.UserSessions(load.SessionUser(uint64(r.next + i%live)))
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != revokePerUser {
			b.Fatalf("%d sessions listed, want %d", len(list), revokePerUser)
		}
	}
}
