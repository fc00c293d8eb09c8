package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/sessiond/sessiond"
)

// The data stream between two nodes is a sequence of messages (see
// channel.go for how they are framed, authenticated and encrypted). Each
// message starts with its kind.
//
// The first message on a connection, from the side that dialed, says what
// it is for: msgStream (our log, for good), msgSyncRequest (your whole set,
// a join) or msgDigest (a repair round).
const (
	// msgStream opens a log stream; the acceptor answers msgResume.
	msgStream byte = 1 + iota
	// msgResume is the sequence number of the dialer's log the acceptor
	// applied last (0: none; stream from the oldest entry held;
	// resumeAtEnd: from the next entry, the acceptor catching up by
	// difference on the rest).
	msgResume
	// msgLog carries log entries: sequence number of the first, count,
	// entries (outlog.go).
	msgLog
	// msgAck says the acceptor applied the log through a sequence number.
	msgAck
	// msgSyncRequest asks the acceptor for its whole set.
	msgSyncRequest
	// msgSyncStart gives the records and bytes a sync will send, for the
	// joiner's progress log.
	msgSyncStart
	// msgSyncChunk carries records of a sync or a repair, back to back.
	msgSyncChunk
	// msgSyncDone ends a sync or one side of a repair: the number of
	// records sent.
	msgSyncDone
	// msgDigest carries the sender's floor and a digest per key-range
	// bucket (repair.go).
	msgDigest
	// msgNotReady answers msgSyncRequest from a node still syncing
	// itself, and msgDigest or msgCatchUp from a node in another repair
	// round.
	msgNotReady
	// msgVersions carries key hashes and versions of a repair round,
	// back to back, in the order of the hashes (repair.go).
	msgVersions
	// msgWant carries the key hashes whose records one side of a repair
	// round asks the other for, in order.
	msgWant
	// msgCatchUp opens a repair round as msgDigest does, from a node
	// that restarted with its data and catches up by difference: the
	// acceptor sends every record that differs, however young, since
	// the streams to the dialer start at their logs' ends.
	msgCatchUp
)

// resumeAtEnd is the msgResume of a node catching up by difference.
const resumeAtEnd = ^uint64(0)

// Record encoding flags.
const (
	recDeleted = 1 << iota
	recExpires
	recFlags
)

// errMalformed wraps every decoding error: the peer sent something no
// sessiond sends, and the stream is closed.
var errMalformed = errors.New("cluster: malformed message")

// appendRecord appends the wire form of rec to b.
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
