package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/sessiond/sessiond"
)

// The cluster's wire: what nodes tell each other, each message's layout
// beside its encoder and decoder. Gossip carries each node's metadata
// (meta); a data connection, a hello each way and then messages.
//
// The data stream between two nodes is a sequence of messages (see
// channel.go for how they are framed, authenticated and encrypted). Each
// message starts with its kind.
//
// The first message on a connection, from the side that dialed, says what
// it is for: msgStream (our log, for good), msgSyncRequest (your whole set,
// a join), or msgDigest or msgCatchUp (a repair round).
//
// In the layouts below, integers are big-endian, uvarint and varint are
// encoding/binary's, and a version is its time (uint64) then its node
// (uvarint).
const (
	// msgStream opens a log stream; the acceptor answers msgResume.
	msgStream byte = 1 + iota
	// msgResume is the sequence number of the dialer's log the acceptor
	// applied last (0: none; stream from the oldest entry held;
	// resumeAtEnd: from the next entry, the acceptor catching up by
	// difference on the rest).
	msgResume
	// msgLog carries log entries: sequence number of the first, count,
	// entries.
	msgLog
	// msgAck says the acceptor applied the log through a sequence number.
	msgAck
	// msgSyncRequest asks the acceptor for its whole set.
	msgSyncRequest
	// msgSyncStart gives the records and bytes a sync will send, for the
	// joiner's progress log.
	msgSyncStart
	// msgSyncChunk carries records of a sync or a repair, back to back
	// (appendRecord).
	msgSyncChunk
	// msgSyncDone ends a list (the records of a sync or of one side of
	// a repair, a version or hash list): the number of items sent.
	msgSyncDone
	// msgDigest carries the sender's floor and a digest per key-range
	// bucket (repair.go).
	msgDigest
	// msgNotReady answers msgSyncRequest from a node still syncing
	// itself, and msgDigest or msgCatchUp from a node in another repair
	// round.
	msgNotReady
	// msgVersions carries key hashes and versions of a repair round,
	// back to back, in the order of the hashes (appendKeyVersion).
	msgVersions
	// msgWant carries the key hashes whose records one side of a repair
	// round asks the other for, in order (decodeHashes).
	msgWant
	// msgCatchUp opens a repair round as msgDigest does, from a node
	// that restarted with its data and catches up by difference: the
	// acceptor sends every record that differs, however young, since
	// the streams to the dialer start at their logs' ends.
	msgCatchUp
)

// errMalformed wraps every decoding error: the peer sent something no
// sessiond sends, and the stream is closed.
var errMalformed = errors.New("cluster: malformed message")

// resumeAtEnd is the msgResume of a node catching up by difference.
const resumeAtEnd = ^uint64(0)

// appendResume appends a msgResume, a message of one number.
func appendResume(b []byte, seq uint64) []byte { return appendNumber(b, msgResume, seq) }

// decodeResume reads a msgResume.
func decodeResume(msg []byte) (seq uint64, err error) {
	return decodeNumber(msg, msgResume, "a resume point", "resume point")
}

// appendNumber appends a message that is one number, n: a msgResume or a
// msgSyncDone.
//
//	kind  n uint64
func appendNumber(b []byte, kind byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append(b, kind), n)
}

// decodeNumber reads a message of kind that is one number; expected and
// field name the message and the number in its errors.
func decodeNumber(msg []byte, kind byte, expected, field string) (uint64, error) {
	d := decoder{b: msg}
	if d.byte("kind") != kind {
		return 0, fmt.Errorf("%w: expected %s", errMalformed, expected)
	}
	n := d.uint64(field)
	return n, d.err
}

// appendLogHeader appends the start of a msgLog, the count entries that
// follow it numbered from first:
//
//	kind  first uint64  count uint32  entries...
func appendLogHeader(b []byte, first uint64, count int) []byte {
	b = binary.BigEndian.AppendUint64(append(b, msgLog), first)
	return binary.BigEndian.AppendUint32(b, uint32(count))
}

// decodeLog reads the start of a msgLog and returns its entries' bytes,
// which decoder.entry reads one at a time.
func decodeLog(msg []byte) (first uint64, count uint32, entries []byte, err error) {
	d := decoder{b: msg}
	if d.byte("kind") != msgLog {
		return 0, 0, nil, fmt.Errorf("%w: expected log entries", errMalformed)
	}
	first = d.uint64("first entry")
	count = d.uint32("entry count")
	return first, count, d.b, d.err
}

// Kinds of log entries. The outbound log (outlog.go) holds its entries in
// their wire form, and a msgLog carries them as they are: each is its kind
// and then
//
//	entryRecord  record
//	entryClear   version
const (
	entryRecord byte = 1 + iota // a record
	entryClear                  // a Clear: the version everything older goes
)

// appendEntryRecord appends a log entry of rec.
func appendEntryRecord(b []byte, rec *sessiond.Record) []byte {
	return appendRecord(append(b, entryRecord), rec)
}

// appendEntryClear appends a log entry of a Clear at version v.
func appendEntryClear(b []byte, v sessiond.Version) []byte {
	return appendVersion(append(b, entryClear), v)
}

// entry decodes one log entry: a record into rec (as record does), or the
// version of a Clear.
func (d *decoder) entry(rec *sessiond.Record, maxValue int) (kind byte, clear sessiond.Version) {
	if d.err != nil {
		return 0, clear
	}
	switch kind = d.byte("entry kind"); kind {
	case entryRecord:
		d.record(rec, maxValue)
	case entryClear:
		clear = d.version()
	default: // a message that ends early included: its kind reads 0
		d.err = fmt.Errorf("%w: entry of kind %d", errMalformed, kind)
	}
	return kind, clear
}

// appendAck appends a msgAck: applied through last, but for the refused
// entries.
//
//	kind  last uint64  refused uint64...
func appendAck(b []byte, last uint64, refused []uint64) []byte {
	b = binary.BigEndian.AppendUint64(append(b, msgAck), last)
	for _, s := range refused {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	return b
}

// decodeAck reads a msgAck.
func decodeAck(msg []byte) (last uint64, refused []uint64, err error) {
	d := decoder{b: msg}
	if d.byte("kind") != msgAck {
		return 0, nil, fmt.Errorf("%w: expected an ack", errMalformed)
	}
	last = d.uint64("ack")
	for d.err == nil && len(d.b) > 0 {
		refused = append(refused, d.uint64("refused entry"))
	}
	return last, refused, d.err
}

// appendSyncStart appends a msgSyncStart, which answers msgSyncRequest:
// the donor's floor (its last Clear), and the records and bytes it holds.
//
//	kind  floor version  records uint64  bytes uint64
func appendSyncStart(b []byte, floor sessiond.Version, records, bytes uint64) []byte {
	b = appendVersion(append(b, msgSyncStart), floor)
	b = binary.BigEndian.AppendUint64(b, records)
	return binary.BigEndian.AppendUint64(b, bytes)
}

// decodeSyncStart reads a msgSyncStart.
func decodeSyncStart(msg []byte) (floor sessiond.Version, records, bytes uint64, err error) {
	d := decoder{b: msg}
	if d.byte("kind") != msgSyncStart {
		return floor, 0, 0, fmt.Errorf("%w: expected the start of a sync", errMalformed)
	}
	floor = d.version()
	records = d.uint64("record count")
	bytes = d.uint64("byte count")
	return floor, records, bytes, d.err
}

// appendDone appends a msgSyncDone, a message of one number: it ends a
// list of n items (lists.go), the records of msgSyncChunk messages, the
// entries of msgVersions or the key hashes of msgWant.
func appendDone(b []byte, n uint64) []byte { return appendNumber(b, msgSyncDone, n) }

// decodeDone reads a msgSyncDone.
func decodeDone(msg []byte) (n uint64, err error) {
	return decodeNumber(msg, msgSyncDone, "the end of a list", "items sent")
}

// appendDigest appends a msgDigest or msgCatchUp (kind): the sender's floor
// and the digest of each repair bucket (repair.go).
//
//	kind  floor version  digest uint64 × 1<<repairBits
func appendDigest(b []byte, kind byte, floor sessiond.Version, d []uint64) []byte {
	b = appendVersion(append(b, kind), floor)
	for _, x := range d {
		b = binary.BigEndian.AppendUint64(b, x)
	}
	return b
}

// decodeDigest reads a msgDigest or msgCatchUp.
func decodeDigest(msg []byte) (sessiond.Version, []uint64, error) {
	d := decoder{b: msg}
	if k := d.byte("kind"); k != msgDigest && k != msgCatchUp {
		return sessiond.Version{}, nil, fmt.Errorf("%w: expected a digest", errMalformed)
	}
	floor := d.version()
	if d.err == nil && len(d.b) != 8<<repairBits {
		d.fail("digest size")
	}
	if d.err != nil {
		return floor, nil, d.err
	}
	ds := make([]uint64, 1<<repairBits)
	for i := range ds {
		ds[i] = binary.BigEndian.Uint64(d.b[8*i:])
	}
	return floor, ds, nil
}

// notReady reports whether msg is a msgNotReady, which is its kind alone.
func notReady(msg []byte) bool { return len(msg) > 0 && msg[0] == msgNotReady }

// appendKeyVersion appends an entry of a msgVersions:
//
//	key hash uint64  version
func appendKeyVersion(b []byte, kv keyVersion) []byte {
	return appendVersion(binary.BigEndian.AppendUint64(b, kv.h), kv.v)
}

// keyVersion reads an entry of a msgVersions.
func (d *decoder) keyVersion() keyVersion {
	h := d.uint64("key hash")
	return keyVersion{h: h, v: d.version()}
}

// decodeHashes appends the key hashes of a msgWant body, 8 bytes each, to
// hashes, which they must continue in order.
func decodeHashes(hashes []uint64, body []byte) ([]uint64, error) {
	if len(body)%8 != 0 || len(hashes)+len(body)/8 > maxRepairList {
		return hashes, fmt.Errorf("%w: hash list of %d bytes", errMalformed, len(body))
	}
	for ; len(body) > 0; body = body[8:] {
		h := binary.BigEndian.Uint64(body)
		if len(hashes) > 0 && h < hashes[len(hashes)-1] {
			return hashes, fmt.Errorf("%w: hash list out of order", errMalformed)
		}
		hashes = append(hashes, h)
	}
	return hashes, nil
}

// hello is what each side of a data connection tells the other once the
// channel is secure (channel.go), before any message.
type hello struct {
	Cluster string
	Node    string
	// ID is the node's id, the Node of its versions.
	ID uint32
	// Incarnation is random per start of the node, so that a restarted
	// node's log sequence numbers are not taken for the old ones.
	Incarnation uint64
	// Proto is the data protocol versions the node speaks (version.go).
	// A hello without it is from the release that spoke version 1 alone.
	Proto protoRange
}

// append appends h's wire form, a zero Proto as this build's range:
//
//	cluster name length uvarint  cluster name  (at most 255 bytes)
//	node name length uvarint     node name     (at most 255 bytes)
//	id uint32  incarnation uint64
//	lowest protocol version uint16  highest protocol version uint16
func (h *hello) append(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(h.Cluster)))
	b = append(b, h.Cluster...)
	b = binary.AppendUvarint(b, uint64(len(h.Node)))
	b = append(b, h.Node...)
	b = binary.BigEndian.AppendUint32(b, h.ID)
	b = binary.BigEndian.AppendUint64(b, h.Incarnation)
	p := h.Proto
	if p == (protoRange{}) {
		p = ours
	}
	b = binary.BigEndian.AppendUint16(b, p.lo)
	return binary.BigEndian.AppendUint16(b, p.hi)
}

// decode reads a hello into h: of this release, of the one before, which
// sent no protocol versions, or of a later one, which may append fields.
func (h *hello) decode(b []byte) error {
	d := decoder{b: b}
	h.Cluster = string(d.bytes(d.uvarint("cluster name length"), 255, "cluster name"))
	h.Node = string(d.bytes(d.uvarint("node name length"), 255, "node name"))
	h.ID = d.uint32("node id")
	h.Incarnation = d.uint64("incarnation")
	h.Proto = protoRange{1, 1}
	if d.err == nil && len(d.b) > 0 {
		h.Proto = protoRange{d.uint16("lowest protocol version"), d.uint16("highest protocol version")}
		if d.err == nil && (h.Proto.lo == 0 || h.Proto.lo > h.Proto.hi) {
			d.fail("hello: protocol versions")
		}
	}
	// What a later release appends is not ours to read.
	return d.err
}

// meta is what a node advertises in its gossip metadata.
type meta struct {
	DataPort uint16
	ID       uint32
	MaxMsg   uint32     // the largest data message the node takes
	Proto    protoRange // the data protocol versions it speaks
	HTTPPort uint16     // the port of its HTTP listener for operators; 0 for none
}

// metaVersion is the layout of the metadata this build writes:
//
//	0  1  layout version (2: the first four fields alone; 3 adds Proto;
//	      4 adds HTTPPort)
//	1  2  data port
//	3  4  id
//	7  4  largest message
//	11 2  lowest data protocol version (3 on)
//	13 2  highest data protocol version (3 on)
//	15 2  HTTP port (4 on; 0 for none)
//
// A later layout appends fields: a reader takes the fields it knows of
// any layout from 2 on, and ignores what follows them.
const metaVersion = 4

// encode returns m in the layout of metaVersion.
func (m meta) encode() []byte {
	b := []byte{metaVersion}
	b = binary.BigEndian.AppendUint16(b, m.DataPort)
	b = binary.BigEndian.AppendUint32(b, m.ID)
	b = binary.BigEndian.AppendUint32(b, m.MaxMsg)
	b = binary.BigEndian.AppendUint16(b, m.Proto.lo)
	b = binary.BigEndian.AppendUint16(b, m.Proto.hi)
	return binary.BigEndian.AppendUint16(b, m.HTTPPort)
}

// decodeMeta reads metadata of any layout from 2 on.
func decodeMeta(b []byte) (meta, error) {
	bad := func() (meta, error) {
		return meta{}, fmt.Errorf("cluster: node metadata of %d bytes is not a sessiond node's", len(b))
	}
	if len(b) < 11 || b[0] < 2 || (b[0] == 2 && len(b) != 11) || (b[0] >= 3 && len(b) < 15) || (b[0] >= 4 && len(b) < 17) {
		return bad()
	}
	m := meta{DataPort: binary.BigEndian.Uint16(b[1:]), ID: binary.BigEndian.Uint32(b[3:]), MaxMsg: binary.BigEndian.Uint32(b[7:]),
		Proto: protoRange{1, 1}} // layout 2 is the release that spoke version 1 alone
	if b[0] >= 3 {
		m.Proto = protoRange{binary.BigEndian.Uint16(b[11:]), binary.BigEndian.Uint16(b[13:])}
		if m.Proto.lo == 0 || m.Proto.lo > m.Proto.hi {
			return bad()
		}
	}
	if b[0] >= 4 {
		m.HTTPPort = binary.BigEndian.Uint16(b[15:])
	}
	return m, nil
}

// Record encoding flags.
const (
	recDeleted = 1 << iota
	recExpires
	recFlags
)

// appendRecord appends the wire form of rec to b:
//
//	flags byte  key length uvarint  key
//	value length uvarint  value    (not for a tombstone)
//	expiry varint                  (with recExpires)
//	client flags uint32            (with recFlags)
//	version
func appendRecord(b []byte, rec *sessiond.Record) []byte {
	var f byte
	if rec.Deleted {
		f |= recDeleted
	}
	if rec.Expires != 0 {
		f |= recExpires
	}
	if rec.Flags != 0 {
		f |= recFlags
	}
	b = append(b, f)
	b = binary.AppendUvarint(b, uint64(len(rec.Key)))
	b = append(b, rec.Key...)
	if !rec.Deleted {
		b = binary.AppendUvarint(b, uint64(len(rec.Value)))
		b = append(b, rec.Value...)
	}
	if f&recExpires != 0 {
		b = binary.AppendVarint(b, rec.Expires)
	}
	if f&recFlags != 0 {
		b = binary.BigEndian.AppendUint32(b, rec.Flags)
	}
	b = binary.BigEndian.AppendUint64(b, rec.Version.Time)
	return binary.AppendUvarint(b, uint64(rec.Version.Node))
}

// appendVersion appends the wire form of v: its time, then its node.
func appendVersion(b []byte, v sessiond.Version) []byte {
	b = binary.BigEndian.AppendUint64(b, v.Time)
	return binary.AppendUvarint(b, uint64(v.Node))
}

// decoder reads the fields of one message, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errMalformed, what)
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint16(what string) uint16 {
	if d.err != nil || len(d.b) < 2 {
		d.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) uint32(what string) uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) uint64(what string) uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// bytes returns the next n bytes, without copying, if there are n and n is
// at most max.
func (d *decoder) bytes(n uint64, max int, what string) []byte {
	if d.err != nil || n > uint64(max) || n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// version reads a Version.
func (d *decoder) version() sessiond.Version {
	t := d.uint64("version time")
	n := d.uvarint("version node")
	if n > 1<<32-1 {
		d.fail("version node")
	}
	return sessiond.Version{Time: t, Node: uint32(n)}
}

// record decodes one record into rec. Key and Value point into the
// message, without a copy: they are valid until the message's buffer is
// reused (the store copies what it keeps).
func (d *decoder) record(rec *sessiond.Record, maxValue int) {
	f := d.byte("record flags")
	if f&^(recDeleted|recExpires|recFlags) != 0 {
		d.fail("record flags")
	}
	key := d.bytes(d.uvarint("key length"), sessiond.MaxKeySize, "key")
	*rec = sessiond.Record{Deleted: f&recDeleted != 0}
	rec.Key = unsafe.String(unsafe.SliceData(key), len(key))
	if !rec.Deleted {
		rec.Value = d.bytes(d.uvarint("value length"), maxValue, "value")
	}
	if f&recExpires != 0 {
		rec.Expires = d.varint("expiry")
	}
	if f&recFlags != 0 {
		rec.Flags = d.uint32("flags")
	}
	rec.Version = d.version()
	if d.err == nil && rec.Version.IsZero() {
		d.fail("record without a version")
	}
}
