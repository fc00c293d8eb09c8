package cluster

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testkit"
)

// TestMergeReplicates: SESSION.MERGE on one node replicates as the
// resulting session, with its expiry: the other node serves the merged
// value, and merges through it build on it.
func TestMergeReplicates(t *testing.T) {
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	c := ctx(t)
	if err := a.rdb.Set(c, "sess:m", `{"passport":{"user":"7"},"cart":{"items":1}}`, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := a.rdb.Do(c, "SESSION.MERGE", "sess:m", `{"cart":{"items":2}}`).Text()
	want := `{"passport":{"user":"7"},"cart":{"items":2}}`
	if err != nil || got != want {
		t.Fatalf("SESSION.MERGE on %s: %q, %v; want %q", a.name, got, err, want)
	}
	testkit.Eventually(t, 10*time.Second, b.name+" holds the merged session", func() bool {
		v, _ := b.rdb.Get(c, "sess:m").Result()
		return v == want
	})
	if ttl := b.rdb.TTL(c, "sess:m").Val(); ttl < 50*time.Minute {
		t.Errorf("%s: TTL %v after the merge, want the session's hour", b.name, ttl)
	}
	got, err = b.rdb.Do(c, "SESSION.MERGE", "sess:m", `{"theme":"dark"}`).Text()
	want = `{"passport":{"user":"7"},"cart":{"items":2},"theme":"dark"}`
	if err != nil || got != want {
		t.Fatalf("SESSION.MERGE on %s: %q, %v; want %q", b.name, got, err, want)
	}
	testkit.Eventually(t, 10*time.Second, a.name+" holds the second merge", func() bool {
		v, _ := a.rdb.Get(c, "sess:m").Result()
		return v == want
	})
}
