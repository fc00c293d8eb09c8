package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/jsonpath"
	"github.com/sessiond/sessiond/internal/testkit"
)

// indexed returns store options with the user index on passport.user.
func indexed(t *testing.T) *sessiond.Options {
	paths, err := jsonpath.Parse("passport.user")
	if err != nil {
		t.Fatal(err)
	}
	return &sessiond.Options{UserID: func(v []byte) ([]byte, bool) { return jsonpath.Lookup(v, paths) }}
}

func sessionFor(user string) []byte {
	return []byte(`{"cookie":{"path":"/"},"passport":{"user":"` + user + `"}}`)
}

// userKeys is what st lists for user, sorted, and what its records hold
// for the user: the two must agree.
func userKeys(t *testing.T, st *sessiond.Store, user string) (listed, held []string) {
	list, err := st.UserSessions(user)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		listed = append(listed, s.Key)
	}
	slices.Sort(listed)
	want := string(sessionFor(user))
	for cursor := uint64(0); ; {
		next, err := st.Replica().Records(cursor, 100, func(rec *sessiond.Record) {
			if !rec.Deleted && string(rec.Value) == want {
				held = append(held, strings.Clone(rec.Key))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(held)
	return listed, held
}

// TestUserIndexAcrossNodes checks that each node's user index follows its
// own data, written locally, replicated and streamed at a join, and that
// a revoke on one node logs the user out on every node.
func TestUserIndexAcrossNodes(t *testing.T) {
	a := startNodeWith(t, "a", "", nil, indexed(t))
	b := startNodeWith(t, "b", a.GossipAddr(), nil, indexed(t))
	testkit.Eventually(t, converge, "b ready", b.Ready)
	for i, n := range []*testNode{a, a, b} {
		if err := n.st.Set(fmt.Sprintf("sess:alice%d", i), sessionFor("alice"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.st.Set("sess:bob", sessionFor("bob"), time.Hour); err != nil {
		t.Fatal(err)
	}
	// A session that moves from alice to bob, and one from bob to nobody.
	if err := a.st.Set("sess:moved", sessionFor("alice"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Set("sess:gone", sessionFor("bob"), time.Hour); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "b holds a's writes", func() bool { return value(b.st, "sess:moved") != "<missing>" })
	if err := b.st.Set("sess:moved", sessionFor("bob"), time.Hour); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, converge, "a holds b's writes", func() bool { return value(a.st, "sess:gone") != "<missing>" })
	if err := a.st.Set("sess:gone", []byte(`{"cookie":{}}`), time.Hour); err != nil {
		t.Fatal(err)
	}

	// c joins now: its index is built from the stream.
	c := startNodeWith(t, "c", a.GossipAddr(), nil, indexed(t))
	testkit.Eventually(t, converge, "c ready", c.Ready)
	nodes := []*testNode{a, b, c}
	agree := func(user string, want []string) {
		t.Helper()
		for _, n := range nodes {
			testkit.Eventually(t, converge, fmt.Sprintf("%s lists %s's sessions %q", n.Name(), user, want), func() bool {
				listed, held := userKeys(t, n.st, user)
				return slices.Equal(listed, want) && slices.Equal(held, want)
			})
		}
	}
	agree("alice", []string{"sess:alice0", "sess:alice1", "sess:alice2"})
	agree("bob", []string{"sess:bob", "sess:moved"})

	// A revoke on c, but for the session asking.
	n, err := c.st.RevokeUser("alice", "sess:alice1")
	if err != nil || n != 2 {
		t.Fatalf("revoke on c: %d, %v; want 2", n, err)
	}
	agree("alice", []string{"sess:alice1"})
	agree("bob", []string{"sess:bob", "sess:moved"})
	for _, n := range nodes {
		if got, err := n.st.CountUserSessions("alice"); err != nil || got != 1 {
			t.Errorf("%s counts %d of alice's sessions, %v; want 1", n.Name(), got, err)
		}
	}
}
