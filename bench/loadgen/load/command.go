package load

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Protocol is the wire protocol a load generator speaks.
type Protocol string

const (
	// RESP is the Redis protocol, RESP2.
	RESP Protocol = "resp"
	// Memcache is the memcached text protocol.
	Memcache Protocol = "memcache"
)

// ParseProtocol parses "resp" or "memcache"; "" is RESP.
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(s); p {
	case "":
		return RESP, nil
	case RESP, Memcache:
		return p, nil
	}
	return "", fmt.Errorf("load: protocol %q: want resp or memcache", s)
}

// Op is the command a load generator sends.
type Op int

const (
	// OpSet sends SET key value (memcached: set key 0 0 <bytes>).
	OpSet Op = iota
	// OpGet sends GET key (memcached: get key).
	OpGet
	// OpSession sends SET sess:<32 hex digits> value EX 86400
	// (memcached: set sess:<32 hex digits> 0 86400 <bytes>), each key
	// new (numbered from 0 in sequence and scrambled), as express-session
	// with connect-redis or connect-memcached stores a new session; with
	// Config.Rewrite, it rewrites the sessions of a keyspace instead.
	OpSession
)

func (o Op) String() string {
	switch o {
	case OpSet:
		return "SET"
	case OpGet:
		return "GET"
	case OpSession:
		return "SESSION"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// ParseOp parses "set", "get" or "session", in any case.
func ParseOp(s string) (Op, error) {
	switch strings.ToUpper(s) {
	case "SET":
		return OpSet, nil
	case "GET":
		return OpGet, nil
	case "SESSION":
		return OpSession, nil
	}
	return 0, fmt.Errorf("load: op %q: want set, get or session", s)
}

// Key layouts. Keys have a fixed width, so that a batch is encoded once
// and only the key digits are rewritten before each send.
const (
	keyPrefix     = "key:"
	keyDigits     = 8 // key:NNNNNNNN, 12 bytes
	sessionPrefix = "sess:"
	sessionDigits = 32 // sess:<32 hex>, 37 bytes
	// MaxKeyspace is the largest keyspace key:NNNNNNNN can number.
	MaxKeyspace = 100_000_000
	// sessionTTL is the TTL of OpSession's keys in seconds: a day.
	sessionTTL = "86400"
)

// batch is a pipeline of commands encoded once; before each send the
// digits of every key are rewritten in place.
type batch struct {
	buf    []byte
	keys   []int   // offset in buf of each command's key digits
	ends   []int   // offset in buf just past each command
	values []int   // offset in buf of each command's value (OpSession)
	fields []field // a session value's variable parts (OpSession)

	// sizes holds a command for each value length of a spread (OpSet
	// with Config.ValueSpread), shortest first; keyAt is where the key
	// digits start in each.
	sizes [][]byte
	keyAt int
}

// newBatch encodes n commands of kind op in protocol proto, with values
// of valueSize bytes, or with spread > 0 (OpSet only) of valueSize-spread
// to valueSize+spread bytes, drawn for each send by vary.
func newBatch(proto Protocol, op Op, n, valueSize, spread int) *batch {
	if spread > 0 && op == OpSet {
		return newSpreadBatch(proto, n, valueSize, spread)
	}
	value := pattern(valueSize)
	var fields []field
	if op == OpSession && valueSize >= minSessionValue {
		value, fields = sessionValue(valueSize)
	}
	var prefix, placeholder string
	switch op {
	case OpSession:
		prefix, placeholder = sessionPrefix, strings.Repeat("0", sessionDigits)
	default:
		prefix, placeholder = keyPrefix, strings.Repeat("0", keyDigits)
	}
	key := prefix + placeholder
	var cmd []byte
	if proto == Memcache {
		cmd = appendMemcache(nil, op, key, value)
	} else {
		cmd = appendRESP(nil, op, key, value)
	}
	at := bytes.Index(cmd, []byte(key)) + len(prefix)
	vat := bytes.Index(cmd, value)
	b := &batch{fields: fields}
	for range n {
		b.keys = append(b.keys, len(b.buf)+at)
		b.values = append(b.values, len(b.buf)+vat)
		b.buf = append(b.buf, cmd...)
		b.ends = append(b.ends, len(b.buf))
	}
	return b
}

// pattern returns a value of n bytes: printable and not one repeated
// byte, in case a server compresses.
func pattern(n int) []byte {
	value := make([]byte, n)
	for i := range value {
		value[i] = 'a' + byte((i*7+i/26)%26)
	}
	return value
}

// newSpreadBatch is newBatch for SETs whose values vary in length.
func newSpreadBatch(proto Protocol, n, valueSize, spread int) *batch {
	value := pattern(valueSize + spread)
	key := keyPrefix + strings.Repeat("0", keyDigits)
	b := &batch{keys: make([]int, n), ends: make([]int, n)}
	for size := max(valueSize-spread, 0); size <= valueSize+spread; size++ {
		var cmd []byte
		if proto == Memcache {
			cmd = appendMemcache(nil, OpSet, key, value[:size])
		} else {
			cmd = appendRESP(nil, OpSet, key, value[:size])
		}
		b.keyAt = bytes.Index(cmd, []byte(key)) + len(keyPrefix)
		b.sizes = append(b.sizes, cmd)
	}
	b.buf = make([]byte, 0, n*len(b.sizes[len(b.sizes)-1]))
	b.vary(n, nil)
	return b
}

// vary lays out the first n commands again, each with a value length
// drawn by rng (with a nil rng, the middle one). A batch without a spread
// keeps its one length. The keys must be set after it.
func (b *batch) vary(n int, rng *rand.Rand) {
	if b.sizes == nil {
		return
	}
	b.buf = b.buf[:0]
	for i := range n {
		cmd := b.sizes[len(b.sizes)/2]
		if rng != nil {
			cmd = b.sizes[rng.IntN(len(b.sizes))]
		}
		b.keys[i] = len(b.buf) + b.keyAt
		b.buf = append(b.buf, cmd...)
		b.ends[i] = len(b.buf)
	}
}

// appendRESP appends op on key as a RESP command.
func appendRESP(dst []byte, op Op, key string, value []byte) []byte {
	switch op {
	case OpGet:
		return AppendCommand(dst, "GET", key)
	case OpSession:
		return AppendCommand(dst, "SET", key, string(value), "EX", sessionTTL)
	}
	return AppendCommand(dst, "SET", key, string(value))
}

// setKey writes key number k into command i of the batch; an OpSession's
// value is that of session number k, its user user number k.
func (b *batch) setKey(op Op, i int, k uint64) {
	if op == OpSession {
		b.setSession(i, k, k, k)
		return
	}
	at := b.keys[i]
	putDecimal(b.buf[at:at+keyDigits], k)
}

// setSession writes session number k into OpSession command i of the
// batch: its value's user id that of user number user, its other variable
// fields drawn from z.
func (b *batch) setSession(i int, k, z, user uint64) {
	at := b.keys[i]
	putHex(b.buf[at:at+sessionDigits], k)
	if len(b.fields) > 0 {
		putFields(b.buf[b.values[i]:], b.fields, z, user)
	}
}

// upTo returns the bytes of the first n commands.
func (b *batch) upTo(n int) []byte { return b.buf[:b.ends[n-1]] }

// putDecimal writes k as zero-padded decimal digits filling dst.
func putDecimal(dst []byte, k uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = '0' + byte(k%10)
		k /= 10
	}
}

const hexDigits = "0123456789abcdef"

// putHex writes 32 hex digits that are unique for every k: two bijective
// scramblings of k, so session ids look random, as real ones do, and
// spread over the store's hash table, yet never repeat.
func putHex(dst []byte, k uint64) {
	hi, lo := mix64(k), mix64(k^0x9e3779b97f4a7c15)
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[hi&15]
		hi >>= 4
	}
	for i := 31; i >= 16; i-- {
		dst[i] = hexDigits[lo&15]
		lo >>= 4
	}
}

// mix64 is SplitMix64's finalizer, a bijection on uint64.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
