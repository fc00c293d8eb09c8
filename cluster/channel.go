package cluster

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// A channel is one data stream between two nodes: messages framed by their
// length, and, with cluster keys, authenticated and encrypted with AES-GCM
// under keys derived from one cluster key and both sides' nonces, one key
// per direction. Without keys, messages travel in the clear and only the
// cluster name is checked.
//
// The handshake, initiator first:
//
//	both:      "SDD1" nonce[32]                   (in the clear)
//	initiator: hello{cluster name, node name, id} (sealed with its first key)
//	acceptor:  hello                              (sealed with the key that
//	                                               opened the initiator's)
//
// The acceptor tries each of its keys on the initiator's hello, and the
// channel uses the one that opens it both ways. So two nodes talk if each
// one's first key is among the other's keys, as memberlist's keyring
// decides for gossip: during a rolling change of the cluster key, a node
// of the step before and one of the step after always do (docs/
// OPERATIONS.md). A peer without a common key learns nothing but the
// nonces and a hello it cannot open, and the connection is closed.
type channel struct {
	nc   net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	seal cipher.AEAD // nil without a key
	open cipher.AEAD
	sent uint64 // messages sealed: the nonce of the next
	recv uint64 // messages opened
	max  int    // longest message accepted
	// proto is the data protocol version of the channel: the highest
	// both sides speak (version.go).
	proto uint16
	in    []byte // reused buffer for incoming messages
	out   []byte // reused buffer for sealing
	// Length headers, here rather than on the stack, where passing them
	// to the buffered reader and writer would move them to the heap on
	// every message. Reads and writes may run at once: one for each.
	hdrIn, hdrOut [4]byte

	// timeout, if set, bounds each read of a message and each write:
	// for the sync and repair connections, which must not hang on a
	// peer that stopped, however long the whole transfer takes.
	timeout time.Duration
}

const (
	// maxHello bounds the hello, the one message read before the peer
	// is authenticated.
	maxHello = 1 << 10

	channelMagic = "SDD1"
	nonceSize    = 32
	gcmOverhead  = 16 // AES-GCM's tag
	// handshakeTimeout bounds the handshake: a connection that does
	// not complete it in time is dropped.
	handshakeTimeout = 5 * time.Second
)

// errAuth is returned when the peer's messages do not open with our key,
// or it belongs to another cluster.
var errAuth = errors.New("cluster: peer failed authentication")

// handshake secures nc as initiator or acceptor and exchanges hellos. keys
// are the cluster keys, the first the one the initiator seals with (none:
// in the clear). It returns the peer's hello; a peer of another cluster,
// or one without a key in common, is refused with errAuth.
func handshake(nc net.Conn, keys [][]byte, me hello, initiator bool, maxMsg int) (*channel, hello, error) {
	// Until the peer has proved it holds a key, it gets no more than a
	// hello's worth of our memory.
	c := &channel{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 64<<10), max: maxHello}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	defer nc.SetDeadline(time.Time{})

	var mine [nonceSize]byte
	rand.Read(mine[:])
	c.w.WriteString(channelMagic)
	c.w.Write(mine[:])
	if err := c.w.Flush(); err != nil {
		return nil, hello{}, err
	}
	var theirs [len(channelMagic) + nonceSize]byte
	if _, err := io.ReadFull(c.r, theirs[:]); err != nil {
		return nil, hello{}, err
	}
	if string(theirs[:len(channelMagic)]) != channelMagic {
		return nil, hello{}, fmt.Errorf("%w: not a sessiond data stream", errAuth)
	}
	// Salt: the initiator's nonce, then the acceptor's.
	var salt []byte
	if initiator {
		salt = append(append(salt, mine[:]...), theirs[len(channelMagic):]...)
	} else {
		salt = append(append(salt, theirs[len(channelMagic):]...), mine[:]...)
	}

	var msg []byte
	var err error
	if initiator {
		if len(keys) > 0 {
			c.useKey(keys[0], salt, true)
		}
		if err := c.sendHello(me); err != nil {
			return nil, hello{}, err
		}
		if msg, err = c.readMsg(); errors.Is(err, errAuth) {
			return nil, hello{}, fmt.Errorf("%w: its hello does not open with our first cluster key: it does not have that key, or has no key", errAuth)
		}
	} else {
		msg, err = c.openHello(keys, salt)
		if errors.Is(err, errAuth) {
			// Answer all the same, under our first key, so that the
			// initiator's log says why too. It cannot open it.
			c.useKey(keys[0], salt, false)
			c.sendHello(me)
			return nil, hello{}, fmt.Errorf("%w: its hello opens with none of our %d cluster keys (it seals with a key we do not have, or none)", errAuth, len(keys))
		}
		if err == nil {
			err = c.sendHello(me)
		}
	}
	if err != nil {
		return nil, hello{}, err
	}
	var peer hello
	if err := peer.decode(msg); err != nil {
		return nil, hello{}, err
	}
	if peer.Cluster != me.Cluster {
		return nil, hello{}, fmt.Errorf("%w: it is in cluster %q, we are in %q", errAuth, peer.Cluster, me.Cluster)
	}
	speak := me.Proto
	if speak == (protoRange{}) {
		speak = ours
	}
	if c.proto, err = speak.common(peer.Node, peer.Proto); err != nil {
		return nil, hello{}, fmt.Errorf("%w: %w", errAuth, err)
	}
	c.max = maxMsg
	return c, peer, nil
}

// useKey sets the channel's keys for both directions, derived from the
// cluster key key and salt.
func (c *channel) useKey(key, salt []byte, initiator bool) {
	keys, err := hkdf.Key(sha256.New, key, salt, "sessiond data stream v1", 64)
	if err != nil {
		panic(err) // only for a length past 255 hashes
	}
	toAcceptor, toInitiator := newGCM(keys[:32]), newGCM(keys[32:])
	c.seal, c.open = toAcceptor, toInitiator
	if !initiator {
		c.seal, c.open = toInitiator, toAcceptor
	}
}

// sendHello sends our hello.
func (c *channel) sendHello(me hello) error {
	if err := c.writeMsg(me.append(nil)); err != nil {
		return err
	}
	return c.w.Flush()
}

// openHello reads the initiator's hello and opens it with the first of
// keys that does, which the channel then uses: at most one try per key,
// each on at most a hello's bytes, is what a stranger can make us spend.
// Without keys, the hello is in the clear. A hello that no key opens is
// errAuth.
func (c *channel) openHello(keys [][]byte, salt []byte) ([]byte, error) {
	if len(keys) == 0 {
		return c.readMsg()
	}
	c.max = maxHello + gcmOverhead // read as it came, sealed
	sealed, err := c.readMsg()
	c.max = maxHello
	if err != nil {
		return nil, err
	}
	var nonce [12]byte // the first message's
	out := make([]byte, 0, len(sealed))
	for _, k := range keys {
		c.useKey(k, salt, false)
		// Not in place: a failed Open clears what it wrote.
		if msg, err := c.open.Open(out, nonce[:], sealed, nil); err == nil {
			c.recv = 1
			return msg, nil
		}
	}
	c.seal, c.open = nil, nil
	return nil, errAuth
}

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // 32-byte keys only
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// writeMsg buffers one message made of parts; Flush sends what is
// buffered.
func (c *channel) writeMsg(parts ...[]byte) error {
	if c.timeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if c.seal == nil {
		binary.BigEndian.PutUint32(c.hdrOut[:], uint32(n))
		c.w.Write(c.hdrOut[:])
		for _, p := range parts {
			c.w.Write(p)
		}
		return nil
	}
	c.out = c.out[:0]
	for _, p := range parts {
		c.out = append(c.out, p...)
	}
	var nonce [12]byte
	binary.BigEndian.PutUint64(nonce[4:], c.sent)
	c.sent++
	sealed := c.seal.Seal(c.out[:0], nonce[:], c.out, nil) // in place
	c.out = sealed
	binary.BigEndian.PutUint32(c.hdrOut[:], uint32(len(sealed)))
	c.w.Write(c.hdrOut[:])
	_, err := c.w.Write(sealed)
	return err
}

// Flush sends the buffered messages.
func (c *channel) Flush() error { return c.w.Flush() }

// readMsg reads the next message. The slice is valid until the next call.
func (c *channel) readMsg() ([]byte, error) {
	if c.timeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	}
	if _, err := io.ReadFull(c.r, c.hdrIn[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(c.hdrIn[:]))
	limit := c.max
	if c.open != nil {
		limit += c.open.Overhead()
	}
	if n > limit {
		return nil, fmt.Errorf("%w: message of %d bytes (at most %d)", errMalformed, n, limit)
	}
	if cap(c.in) < n {
		c.in = make([]byte, n)
	}
	buf := c.in[:n]
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return nil, err
	}
	if c.open == nil {
		return buf, nil
	}
	var nonce [12]byte
	binary.BigEndian.PutUint64(nonce[4:], c.recv)
	c.recv++
	msg, err := c.open.Open(buf[:0], nonce[:], buf, nil)
	if err != nil {
		return nil, errAuth
	}
	return msg, nil
}

// Close closes the connection.
func (c *channel) Close() error { return c.nc.Close() }
