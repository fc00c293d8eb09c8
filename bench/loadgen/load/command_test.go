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
