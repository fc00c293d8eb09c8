package cluster

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

type side struct {
	keys  [][]byte
	hello hello
}

// ring returns keys as a node's Config.Keys.
func ring(keys ...[]byte) [][]byte { return keys }

// shake runs both ends of a handshake and returns their results.
func shake(t *testing.T, init, acc side) (ci, ca *channel, pi, pa hello, erri, erra error) {
	t.Helper()
	a, b := pair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ca, pa, erra = handshake(b, acc.keys, acc.hello, false, 1<<20)
		if erra != nil {
			b.Close() // as the node does: the initiator sees the close
		}
	}()
	ci, pi, erri = handshake(a, init.keys, init.hello, true, 1<<20)
	if erri != nil {
		a.Close()
	}
	<-done
	return
}

var (
	keyA = bytes.Repeat([]byte{1}, 32)
	keyB = bytes.Repeat([]byte{2}, 32)
	keyC = bytes.Repeat([]byte{5}, 32)
	keyD = bytes.Repeat([]byte{6}, 16)
)

func TestHandshake(t *testing.T) {
	n1 := hello{Cluster: "prod", Node: "n1", ID: 1, Incarnation: 11, Proto: ours}
	n2 := hello{Cluster: "prod", Node: "n2", ID: 2, Incarnation: 22, Proto: ours}
	for _, key := range [][]byte{nil, keyA, bytes.Repeat([]byte{3}, 16), bytes.Repeat([]byte{4}, 24)} {
		if key == nil {
			// No keys at all, rather than one empty key.
			ci, ca, _, _, erri, erra := shake(t, side{nil, n1}, side{nil, n2})
			if erri != nil || erra != nil {
				t.Fatalf("no keys: handshake failed: %v / %v", erri, erra)
			}
			if ci.seal != nil || ca.seal != nil {
				t.Fatal("no keys: the channel seals")
			}
			continue
		}
		ci, ca, pi, pa, erri, erra := shake(t, side{ring(key), n1}, side{ring(key), n2})
		if erri != nil || erra != nil {
			t.Fatalf("key %x: handshake failed: %v / %v", key, erri, erra)
		}
		if pi != n2 || pa != n1 {
			t.Fatalf("key %x: hellos %+v / %+v, want %+v / %+v", key, pi, pa, n2, n1)
		}
		// Messages flow both ways, several in one flush, in order.
		for _, m := range [][]byte{[]byte("one"), {}, bytes.Repeat([]byte("x"), 70000)} {
			if err := ci.writeMsg(m[:len(m)/2], m[len(m)/2:]); err != nil {
				t.Fatal(err)
			}
		}
		if err := ci.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, m := range [][]byte{[]byte("one"), {}, bytes.Repeat([]byte("x"), 70000)} {
			got, err := ca.readMsg()
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("key %x: read %d bytes, %v; want %d bytes", key, len(got), err, len(m))
			}
		}
		ca.writeMsg([]byte("back"))
		ca.Flush()
		if got, err := ci.readMsg(); err != nil || string(got) != "back" {
			t.Fatalf("key %x: read %q, %v; want back", key, got, err)
		}
	}
}

func TestHandshakeRefuses(t *testing.T) {
	n1 := hello{Cluster: "prod", Node: "n1", ID: 1}
	n2 := hello{Cluster: "prod", Node: "n2", ID: 2}
	other := hello{Cluster: "staging", Node: "n3", ID: 3}
	for _, tc := range []struct {
		name      string
		init, acc side
	}{
		{"different keys", side{ring(keyA), n1}, side{ring(keyB), n2}},
		{"key and none", side{ring(keyA), n1}, side{nil, n2}},
		{"none and key", side{nil, n1}, side{ring(keyA), n2}},
		{"other cluster", side{nil, n1}, side{nil, other}},
		{"other cluster, same key", side{ring(keyA), n1}, side{ring(keyA), other}},
		{"no key in common, several each", side{ring(keyA, keyC), n1}, side{ring(keyB, keyD), n2}},
		// Two steps of a rotation apart: the acceptor dropped the key
		// the initiator still seals with, though both have keyB.
		{"initiator's first key dropped", side{ring(keyA, keyB), n1}, side{ring(keyB), n2}},
	} {
		_, _, pi, pa, erri, erra := shake(t, tc.init, tc.acc)
		if erri == nil || erra == nil {
			t.Errorf("%s: handshake passed: %v / %v", tc.name, erri, erra)
		}
		if tc.init.keys != nil && tc.init.hello.Cluster == tc.acc.hello.Cluster && (pi.Node != "" || pa.Node != "") {
			t.Errorf("%s: a side learned the other's hello: %+v / %+v", tc.name, pi, pa)
		}
	}
}

func TestChannelRejects(t *testing.T) {
	n1 := hello{Cluster: "c", Node: "n1", ID: 1}
	n2 := hello{Cluster: "c", Node: "n2", ID: 2}
	ci, ca, _, _, erri, erra := shake(t, side{ring(keyA), n1}, side{ring(keyA), n2})
	if erri != nil || erra != nil {
		t.Fatal(erri, erra)
	}
	ca.max = 10
	ci.writeMsg(make([]byte, 11))
	ci.Flush()
	if _, err := ca.readMsg(); !errors.Is(err, errMalformed) {
		t.Errorf("an 11-byte message with a limit of 10: %v, want errMalformed", err)
	}

	// A message altered on the way does not open.
	ci, ca, _, _, erri, erra = shake(t, side{ring(keyA), n1}, side{ring(keyA), n2})
	if erri != nil || erra != nil {
		t.Fatal(erri, erra)
	}
	var wire bytes.Buffer
	ci.w.Reset(&wire) // capture the sealed message instead of sending it
	ci.writeMsg([]byte("pay 10"))
	ci.Flush()
	msg := wire.Bytes()
	msg[len(msg)-1] ^= 1
	ci.nc.Write(msg)
	if _, err := ca.readMsg(); !errors.Is(err, errAuth) {
		t.Errorf("a tampered message: %v, want errAuth", err)
	}
}

// TestHandshakeRotation: during a rolling change of the cluster key from
// old to new, the nodes of each step, [old], [old new], [new old] and
// [new], talk to those of the step before and after, whichever dials,
// with messages both ways; and the channel uses one key both ways, the
// initiator's first.
func TestHandshakeRotation(t *testing.T) {
	old, new := keyA, bytes.Repeat([]byte{9}, 16)
	steps := []struct {
		name string
		keys [][]byte
	}{
		{"[old]", ring(old)},
		{"[old new]", ring(old, new)},
		{"[new old]", ring(new, old)},
		{"[new]", ring(new)},
	}
	n1 := hello{Cluster: "prod", Node: "n1", ID: 1, Proto: ours}
	n2 := hello{Cluster: "prod", Node: "n2", ID: 2, Proto: ours}
	for i := range steps {
		for _, j := range []int{i, i + 1} {
			if j == len(steps) {
				continue
			}
			dirs := [][2]int{{i, j}, {j, i}}
			if i == j {
				dirs = dirs[:1]
			}
			for _, dir := range dirs {
				a, b := steps[dir[0]], steps[dir[1]]
				name := a.name + " dials " + b.name
				t.Run(name, func(t *testing.T) {
					ci, ca, pi, pa, erri, erra := shake(t, side{a.keys, n1}, side{b.keys, n2})
					if erri != nil || erra != nil {
						t.Fatalf("handshake failed: %v / %v", erri, erra)
					}
					if pi != n2 || pa != n1 {
						t.Fatalf("hellos %+v / %+v", pi, pa)
					}
					ci.writeMsg([]byte("to acceptor"))
					ci.Flush()
					if got, err := ca.readMsg(); err != nil || string(got) != "to acceptor" {
						t.Fatalf("acceptor read %q, %v", got, err)
					}
					ca.writeMsg([]byte("to initiator"))
					ca.Flush()
					if got, err := ci.readMsg(); err != nil || string(got) != "to initiator" {
						t.Fatalf("initiator read %q, %v", got, err)
					}
				})
			}
		}
	}
	// Steps two apart: the acceptor does not have the initiator's first
	// key. (The other way round, the stream would open, but each node
	// dials the other, and memberlist refuses their gossip one way.)
	for _, tc := range []struct{ a, b int }{{2, 0}, {1, 3}, {0, 3}, {3, 0}} {
		a, b := steps[tc.a], steps[tc.b]
		_, _, _, _, erri, erra := shake(t, side{a.keys, n1}, side{b.keys, n2})
		if erri == nil || erra == nil {
			t.Errorf("%s dials %s: handshake passed: %v / %v", a.name, b.name, erri, erra)
		}
	}
}

// TestHandshakeAuthErrors: a refused handshake says why on both sides, so
// that either node's log tells the operator which key is missing.
func TestHandshakeAuthErrors(t *testing.T) {
	n1 := hello{Cluster: "prod", Node: "n1", ID: 1}
	n2 := hello{Cluster: "prod", Node: "n2", ID: 2}
	_, _, _, _, erri, erra := shake(t, side{ring(keyA), n1}, side{ring(keyB, keyC), n2})
	if !errors.Is(erri, errAuth) || !strings.Contains(erri.Error(), "does not open with our first cluster key") {
		t.Errorf("initiator: %v", erri)
	}
	if !errors.Is(erra, errAuth) || !strings.Contains(erra.Error(), "opens with none of our 2 cluster keys") {
		t.Errorf("acceptor: %v", erra)
	}
}

// FuzzHandshakeAcceptor: whatever bytes a stranger sends a data port, the
// acceptor's handshake, with keys to try or none, ends in an error or a
// peer's hello, within its deadline and without a panic. (A sealed hello
// cannot be fuzzed open: it is bound to the acceptor's random nonce.)
func FuzzHandshakeAcceptor(f *testing.F) {
	plain := append([]byte(channelMagic), make([]byte, nonceSize)...)
	h := hello{Cluster: "prod", Node: "n1", ID: 1, Proto: ours}
	msg := h.append(nil)
	plain = append(plain, byte(len(msg)>>24), byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg)))
	plain = append(plain, msg...)
	f.Add(plain, false)
	f.Add(plain, true)
	f.Add([]byte(channelMagic+"short"), true)
	f.Add(append(append([]byte(channelMagic), make([]byte, nonceSize)...), 0xff, 0xff, 0xff, 0xff), true)
	me := hello{Cluster: "prod", Node: "n2", ID: 2, Proto: ours}
	f.Fuzz(func(t *testing.T, data []byte, keyed bool) {
		var keys [][]byte
		if keyed {
			keys = ring(keyA, keyD, keyB)
		}
		a, b := net.Pipe()
		defer a.Close()
		go io.Copy(io.Discard, b)
		go func() {
			b.Write(data)
			b.Close()
		}()
		ch, peer, err := handshake(a, keys, me, false, 1<<20)
		if err == nil && (keyed || ch.seal != nil || peer.Cluster != me.Cluster) {
			t.Fatalf("handshake passed: keyed %v, peer %+v", keyed, peer)
		}
	})
}
