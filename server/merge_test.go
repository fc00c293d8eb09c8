package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestSessionMerge(t *testing.T) {
	ts := start(t)
	c := ts.dial(t)
	// A missing session starts from nothing: the patch without its
	// nulls.
	c.expect(bulk(`{"cart":{"items":1}}`), "SESSION.MERGE", "s1", `{"cart":{"items":1},"gone":null}`)
	c.expect(num(-1), "TTL", "s1")
	// Members merge; order kept, new ones after; null deletes.
	c.expect(ok, "SET", "s2", `{"cookie":{"path":"/"},"passport":{"user":"42"},"cart":{"items":1,"total":5}}`, "EX", "100")
	c.expect(bulk(`{"cookie":{"path":"/"},"passport":{"user":"42"},"cart":{"items":2,"total":5},"theme":"dark"}`),
		"SESSION.MERGE", "s2", `{"cart":{"items":2},"theme":"dark"}`)
	intIn(t, c, 95, 100, "TTL", "s2") // the session keeps its expiry
	c.expect(bulk(`{"cookie":{"path":"/"},"cart":{"items":2,"total":5},"theme":"dark"}`),
		"session.merge", "s2", `{"passport":null}`, "EX", "1000")
	intIn(t, c, 995, 1000, "TTL", "s2")
	c.expect(bulk(`{"cookie":{"path":"/"},"cart":{"items":2,"total":5},"theme":"dark"}`),
		"SESSION.MERGE", "s2", `{}`, "KEEPTTL")
	intIn(t, c, 995, 1000, "TTL", "s2")

	// A patch that is not JSON, and a session that is not, change
	// nothing.
	r := c.do("SESSION.MERGE", "s2", `{"cart":`)
	if !strings.HasPrefix(r.Raw, "-ERR patch: ") {
		t.Errorf("a patch that is not JSON: got %q, want ERR patch: ...", r.Raw)
	}
	c.expect(ok, "SET", "gob", "\x0e\xff\x81\x03\x01")
	r = c.do("SESSION.MERGE", "gob", `{"a":1}`)
	if !strings.HasPrefix(r.Raw, "-WRONGTYPE the session's value is not JSON: ") {
		t.Errorf("a session that is not JSON: got %q, want WRONGTYPE", r.Raw)
	}
	c.expect(bulk("\x0e\xff\x81\x03\x01"), "GET", "gob")
	c.expect(syntaxErr, "SESSION.MERGE", "s2", `{}`, "EX")
	c.expect(badExpire("session.merge"), "SESSION.MERGE", "s2", `{}`, "EX", "0")
	c.expect(arity("session.merge"), "SESSION.MERGE", "s2")
}

// TestSessionMergeNoLostUpdates: two clients change different fields of
// one session a thousand times each, at once. Through SESSION.MERGE no
// change is lost: each reply holds the client's own latest value and the
// other's never goes back. Through GET then a whole-value SET, as a
// session library does, changes are lost; the test reports how many.
func TestSessionMergeNoLostUpdates(t *testing.T) {
	const rounds = 1000
	ts := start(t)
	run := func(t *testing.T, key string, step func(c *client, own string, i int) map[string]int) (lost int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, own := range []string{"a", "b"} {
			other := map[string]string{"a": "b", "b": "a"}[own]
			c := ts.dial(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				seen := 0
				for i := 1; i <= rounds; i++ {
					// got is the session as the step read it: after
					// the merge, or before the SET. Either way it
					// holds this client's change before this one,
					// unless another write undid it.
					got := step(c, own, i)
					if got[own] < i-1 || got[other] < seen {
						mu.Lock()
						lost++
						mu.Unlock()
					}
					seen = max(seen, got[other])
				}
			}()
		}
		wg.Wait()
		return lost
	}
	decode := func(t *testing.T, v any) map[string]int {
		s, _ := v.(string)
		m := map[string]int{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Errorf("session %q: %v", s, err)
		}
		return m
	}

	lost := run(t, "merged", func(c *client, own string, i int) map[string]int {
		m := decode(t, c.do("SESSION.MERGE", "merged", fmt.Sprintf(`{%q:%d}`, own, i)).V)
		if m[own] != i {
			t.Errorf("%s's merge %d: the session has %s=%d", own, i, own, m[own])
		}
		return m
	})
	final := decode(t, ts.dial(t).do("GET", "merged").V)
	if lost != 0 || final["a"] != rounds || final["b"] != rounds {
		t.Errorf("through SESSION.MERGE: %d changes found lost; the session ends %v, want a=b=%d", lost, final, rounds)
	}

	lost = run(t, "whole", func(c *client, own string, i int) map[string]int {
		read := map[string]int{}
		if v, isStr := c.do("GET", "whole").V.(string); isStr {
			read = decode(t, v)
		}
		m := map[string]int{"a": read["a"], "b": read["b"], own: i}
		b, _ := json.Marshal(m)
		c.expect(ok, "SET", "whole", string(b))
		return read
	})
	final = decode(t, ts.dial(t).do("GET", "whole").V)
	t.Logf("through GET and a whole-value SET: %d of %d changes found lost; the session ends %v", lost, 2*rounds, final)
}
