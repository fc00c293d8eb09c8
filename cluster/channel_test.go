package cluster

import (
	"bytes"
	"errors"
	"net"
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
	key   []byte
	hello hello
}

// shake runs both ends of a handshake and returns their results.
func shake(t *testing.T, init, acc side) (ci, ca *channel, pi, pa hello, erri, erra error) {
	t.Helper()
	a, b := pair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ca, pa, erra = handshake(b, acc.key, acc.hello, false, 1<<20)
		if erra != nil {
			b.Close() // as the node does: the initiator sees the close
		}
	}()
	ci, pi, erri = handshake(a, init.key, init.hello, true, 1<<20)
	if erri != nil {
		a.Close()
	}
	<-done
	return
}

var (
	keyA = bytes.Repeat([]byte{1}, 32)
	keyB = bytes.Repeat([]byte{2}, 32)
)

func TestHandshake(t *testing.T) {
	n1 := hello{Cluster: "prod", Node: "n1", ID: 1, Incarnation: 11, Proto: ours}
	n2 := hello{Cluster: "prod", Node: "n2", ID: 2, Incarnation: 22, Proto: ours}
	for _, key := range [][]byte{nil, keyA, bytes.Repeat([]byte{3}, 16)} {
		ci, ca, pi, pa, erri, erra := shake(t, side{key, n1}, side{key, n2})
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
		{"different keys", side{keyA, n1}, side{keyB, n2}},
		{"key and none", side{keyA, n1}, side{nil, n2}},
		{"none and key", side{nil, n1}, side{keyA, n2}},
		{"other cluster", side{nil, n1}, side{nil, other}},
		{"other cluster, same key", side{keyA, n1}, side{keyA, other}},
	} {
		_, _, pi, pa, erri, erra := shake(t, tc.init, tc.acc)
		if erri == nil || erra == nil {
			t.Errorf("%s: handshake passed: %v / %v", tc.name, erri, erra)
		}
		if tc.init.key != nil && !bytes.Equal(tc.init.key, tc.acc.key) && (pi.Node != "" || pa.Node != "") {
			t.Errorf("%s: a side learned the other's hello: %+v / %+v", tc.name, pi, pa)
		}
	}
}

func TestChannelRejects(t *testing.T) {
	n1 := hello{Cluster: "c", Node: "n1", ID: 1}
	n2 := hello{Cluster: "c", Node: "n2", ID: 2}
	ci, ca, _, _, erri, erra := shake(t, side{keyA, n1}, side{keyA, n2})
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
	ci, ca, _, _, erri, erra = shake(t, side{keyA, n1}, side{keyA, n2})
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
