package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBatchKeys(t *testing.T) {
	// The id of session number 7, and the 4-byte value newBatch makes.
	id := make([]byte, sessionDigits)
	putHex(id, 7)
	sess, v := "sess:"+string(id), "ahov"
	tests := []struct {
		proto Protocol
		op    Op
		keys  []uint64
		want  string
	}{
		{RESP, OpSet, []uint64{42, 99_999_999},
			"*3\r\n$3\r\nSET\r\n$12\r\nkey:00000042\r\n$4\r\n" + v + "\r\n" +
				"*3\r\n$3\r\nSET\r\n$12\r\nkey:99999999\r\n$4\r\n" + v + "\r\n"},
		{RESP, OpGet, []uint64{7}, "*2\r\n$3\r\nGET\r\n$12\r\nkey:00000007\r\n"},
		{RESP, OpSession, []uint64{7}, "*5\r\n$3\r\nSET\r\n$37\r\n" + sess + "\r\n$4\r\n" + v + "\r\n$2\r\nEX\r\n$5\r\n86400\r\n"},
		{Memcache, OpSet, []uint64{42, 99_999_999},
			"set key:00000042 0 0 4\r\n" + v + "\r\nset key:99999999 0 0 4\r\n" + v + "\r\n"},
		{Memcache, OpGet, []uint64{0, 7}, "get key:00000000\r\nget key:00000007\r\n"},
		{Memcache, OpSession, []uint64{7}, "set " + sess + " 0 86400 4\r\n" + v + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.proto)+" "+tt.op.String(), func(t *testing.T) {
			b := newBatch(tt.proto, tt.op, len(tt.keys), len(v), 0)
			for i, k := range tt.keys {
				b.setKey(tt.op, i, k)
			}
			if got := string(b.buf); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			// Every command of a batch has the same length.
			if got, want := string(b.upTo(1)), tt.want[:len(tt.want)/len(tt.keys)]; got != want {
				t.Fatalf("upTo(1) = %q, want %q", got, want)
			}
		})
	}
}

func TestSessionIDsUnique(t *testing.T) {
	s := newBatch(RESP, OpSession, 1, 8, 0)
	seen := map[string]bool{}
	for k := range uint64(10_000) {
		s.setKey(OpSession, 0, k)
		id := string(s.buf[s.keys[0] : s.keys[0]+sessionDigits])
		if seen[id] || strings.Trim(id, hexDigits) != "" {
			t.Fatalf("session id %s at %d repeats or is not hex", id, k)
		}
		seen[id] = true
	}
}

func TestSessionValues(t *testing.T) {
	for _, n := range []int{minSessionValue, 512, 4096} {
		b := newBatch(RESP, OpSession, 2, n, 0)
		b.setKey(OpSession, 0, 1)
		b.setKey(OpSession, 1, 2)
		v1 := b.buf[b.values[0] : b.values[0]+n]
		v2 := b.buf[b.values[1] : b.values[1]+n]
		var j1, j2 map[string]any
		if err := json.Unmarshal(v1, &j1); err != nil {
			t.Fatalf("%d bytes: not JSON: %v: %s", n, err, v1)
		}
		if err := json.Unmarshal(v2, &j2); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(v1, v2) || j1["csrfSecret"] == j2["csrfSecret"] {
			t.Fatalf("two sessions alike: %s", v1)
		}
		if j1["passport"] == nil || j1["cookie"] == nil {
			t.Fatalf("not an express session: %s", v1)
		}
	}
}

func TestBatchSpread(t *testing.T) {
	for _, proto := range []Protocol{RESP, Memcache} {
		t.Run(string(proto), func(t *testing.T) {
			b := newBatch(proto, OpSet, 16, 512, 16)
			rng := rand.New(rand.NewPCG(1, 2))
			seen := map[int]bool{}
			for range 100 {
				b.vary(16, rng)
				for i := range 16 {
					b.setKey(OpSet, i, uint64(i))
				}
				for i := range 16 {
					// From the key to the end of the command.
					cmd := string(b.buf[b.keys[i]-len(keyPrefix) : b.ends[i]])
					format := "key:%08d\r\n$%d\r\n"
					if proto == Memcache {
						format = "key:%08d 0 0 %d\r\n"
					}
					var k, n int
					if _, err := fmt.Sscanf(cmd, format, &k, &n); err != nil || k != i {
						t.Fatalf("command %d: %q: key %d, %v", i, cmd, k, err)
					}
					head := fmt.Sprintf(format, k, n)
					if len(cmd) != len(head)+n+2 || !strings.HasSuffix(cmd, "\r\n") {
						t.Fatalf("command %d: %d bytes for a value of %d: %q", i, len(cmd), n, cmd)
					}
					if n < 512-16 || n > 512+16 {
						t.Fatalf("command %d: value of %d bytes", i, n)
					}
					seen[n] = true
				}
			}
			if len(seen) < 30 {
				t.Fatalf("%d value lengths in 1,600 commands, want nearly all 33", len(seen))
			}
		})
	}
}

func TestSessionUsers(t *testing.T) {
	b := newBatch(RESP, OpSession, 1, 512, 0)
	session := func(k, z, user uint64) (id string, v map[string]any) {
		b.setSession(0, k, z, user)
		id = string(b.buf[b.keys[0] : b.keys[0]+sessionDigits])
		if err := json.Unmarshal(b.buf[b.values[0]:b.values[0]+512], &v); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		return id, v
	}
	user := func(v map[string]any) string { return v["passport"].(map[string]any)["user"].(string) }
	// A rewrite of a session keeps its id and user; the rest changes.
	id1, v1 := session(5, 1, 42)
	id2, v2 := session(5, 2, 42)
	if id1 != id2 || user(v1) != SessionUser(42) || user(v2) != SessionUser(42) {
		t.Fatalf("rewrite: ids %s %s, users %s %s, want %s", id1, id2, user(v1), user(v2), SessionUser(42))
	}
	if v1["csrfSecret"] == v2["csrfSecret"] || v1["cookie"].(map[string]any)["expires"] == v2["cookie"].(map[string]any)["expires"] {
		t.Fatalf("rewrite left the session as it was: %v", v1)
	}
	seen := map[string]bool{}
	for n := range uint64(10_000) {
		u := SessionUser(n)
		if seen[u] || len(u) != userDigits || strings.Trim(u, hexDigits) != "" {
			t.Fatalf("user id %q of %d repeats or is not %d hex digits", u, n, userDigits)
		}
		seen[u] = true
	}
	// Users spreads new sessions over that many users.
	cfg, err := Config{Addr: "127.0.0.1:1", Op: OpSession, Users: 10}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.userOf(23) != 3 || (Config{}).userOf(23) != 23 {
		t.Fatalf("userOf(23) = %d with 10 users, %d with none", cfg.userOf(23), Config{}.userOf(23))
	}
	for _, bad := range []Config{{Op: OpSet, Users: 10}, {Op: OpGet, Rewrite: true}, {Op: OpSession, Users: -1}} {
		bad.Addr = "127.0.0.1:1"
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestSessionKeyValue(t *testing.T) {
	b := newBatch(RESP, OpSession, 1, 512, 0)
	b.setSession(0, 9, 3, 4)
	key := string(b.buf[b.keys[0]-len(sessionPrefix) : b.keys[0]+sessionDigits])
	if got := SessionKey(9); got != key {
		t.Fatalf("SessionKey(9) = %q, the batch writes %q", got, key)
	}
	if got, want := SessionValue(512, 3, 4), b.buf[b.values[0]:b.values[0]+512]; !bytes.Equal(got, want) {
		t.Fatalf("SessionValue = %s, the batch writes %s", got, want)
	}
}
