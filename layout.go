package sessiond

import "encoding/binary"

// A record is stored in a segment as a header, the key and the value:
//
//	off  size  field
//	0    1     state bits (recDead, recTomb, recRef, recFlags, recUser, recPad)
//	1    2     key length
//	3    4     value length
//	7    6     expiry, unix ms (0: never; 48 bits reach the year 10889)
//	13   8     version time (hybrid logical clock)
//	21   4     version node
//	25   4     client flags, only when recFlags is set
//	25*  8     user: the hash of the session's user id, only when recUser
//	           is set (* 29 with client flags)
//	25*  2     pad: unused bytes after the value, only when recPad is set
//	           (* after the fields before it that are present)
//
// followed by the key and the value. Integers are little-endian and
// unaligned: no padding is spent on them. Every byte of the header is paid
// once per session, so it holds nothing a session store can do without.
//
// A rewrite shorter than the record keeps the record's space, so that the
// session can grow back into it without moving, and a rewrite that had to
// move takes some room to grow (shard.write): the pad field says how many
// bytes after the value are unused. It sits in the header's cache line, not
// after the value, so that a write learns the space it has from the line
// its lookup brought in. A new record has no pad, and only the store's
// memory has them: the log and snapshots never do.
//
// The user field is the user index's (users.go): a record whose value
// belongs to a user carries the hash of the user's id, so that a rewrite
// learns whether the session changed hands without reading the value it
// replaces. Like the pad, only the store's memory has it: the store works
// it out again from the value when it loads or applies a record.
const (
	recDead  = 1 << 0 // superseded or deleted; its bytes are garbage
	recTomb  = 1 << 1 // a tombstone: the key was deleted at this version
	recRef   = 1 << 2 // read since written (the LRU's second chance)
	recFlags = 1 << 3 // the client-flags field is present
	recPad   = 1 << 4 // the pad field is present: unused bytes follow the value
	recUser  = 1 << 5 // the user field is present: the value belongs to a user

	headerSize = 25

	// userField is the size of the user field.
	userField = 8

	// padField is the size of the pad field, which counts the unused
	// bytes after the value. A record's pad, the space it has beyond its
	// size, is 0 or padField to maxPad bytes.
	padField = 2
	maxPad   = 1<<16 - 1 + padField

	// maxExpires is the latest expiry the header holds; later ones are
	// stored as this (some 8,800 years from now: never, in practice).
	maxExpires = 1<<48 - 1
)

// recordSize is the stored size of a record, without a user field.
func recordSize(keyLen, valLen int, flags uint32) int {
	n := headerSize + keyLen + valLen
	if flags != 0 {
		n += 4
	}
	return n
}

// view is a record in place. It is valid only while the shard lock is held
// and the record is not moved.
type view []byte

func (v view) state() byte { return v[0] }
func (v view) keyLen() int { return int(binary.LittleEndian.Uint16(v[1:])) }
func (v view) valLen() int { return int(binary.LittleEndian.Uint32(v[3:])) }
func (v view) expires() int64 {
	return int64(binary.LittleEndian.Uint32(v[7:])) | int64(binary.LittleEndian.Uint16(v[11:]))<<32
}

func (v view) setExpires(e int64) {
	e = min(max(e, 0), maxExpires)
	binary.LittleEndian.PutUint32(v[7:], uint32(e))
	binary.LittleEndian.PutUint16(v[11:], uint16(e>>32))
}

func (v view) dead() bool { return v[0]&recDead != 0 }
func (v view) tomb() bool { return v[0]&recTomb != 0 }

func (v view) version() Version {
	return Version{Time: binary.LittleEndian.Uint64(v[13:]), Node: binary.LittleEndian.Uint32(v[21:])}
}

func (v view) setVersion(ver Version) {
	binary.LittleEndian.PutUint64(v[13:], ver.Time)
	binary.LittleEndian.PutUint32(v[21:], ver.Node)
}

func (v view) flags() uint32 {
	if v[0]&recFlags == 0 {
		return 0
	}
	return binary.LittleEndian.Uint32(v[headerSize:])
}

// user returns the hash of the id of the user the record's value belongs
// to, and false if it belongs to none (or the store has no user index).
func (v view) user() (uint64, bool) {
	if v[0]&recUser == 0 {
		return 0, false
	}
	o := headerSize
	if v[0]&recFlags != 0 {
		o += 4
	}
	return binary.LittleEndian.Uint64(v[o:]), true
}

func (v view) bodyOff() int {
	o := headerSize
	if v[0]&recFlags != 0 {
		o += 4
	}
	if v[0]&recUser != 0 {
		o += userField
	}
	if v[0]&recPad != 0 {
		o += padField
	}
	return o
}

func (v view) key() []byte {
	o := v.bodyOff()
	return v[o : o+v.keyLen()]
}

func (v view) value() []byte {
	o := v.bodyOff() + v.keyLen()
	return v[o : o+v.valLen()]
}

// size is the record's stored size, as recordSize counts it: header, key
// and value, and the user field if it has one.
func (v view) size() int {
	n := v.bodyOff() + v.keyLen() + v.valLen()
	if v[0]&recPad != 0 {
		n -= padField
	}
	return n
}

// space is what the record takes in its segment: its size, and with a pad
// the pad field and the unused bytes after the value.
func (v view) space() int {
	n := v.bodyOff() + v.keyLen() + v.valLen()
	if v[0]&recPad != 0 {
		n += int(binary.LittleEndian.Uint16(v[v.bodyOff()-padField:]))
	}
	return n
}

// item describes the record without its value.
func (v view) item() item {
	return item{Expires: v.expires(), Flags: v.flags(), Version: v.version()}
}

// writeRecord lays a record out at the start of dst, which must hold
// recordSize bytes, and returns the view of it.
func writeRecord(dst []byte, key string, value []byte, it item, state byte) view {
	return writeRecordPad(dst, key, value, it, state, 0, 0)
}

// writeRecordPad is writeRecord for a record given pad bytes more space
// than it needs (0, or padField to maxPad), which it says in its pad
// field, and, when state has recUser, a user field holding user. dst must
// hold recordSize+pad bytes, and userField more with a user.
func writeRecordPad(dst []byte, key string, value []byte, it item, state byte, pad int, user uint64) view {
	state &^= recFlags | recPad
	if it.Flags != 0 {
		state |= recFlags
	}
	if pad > 0 {
		state |= recPad
	}
	dst[0] = state
	binary.LittleEndian.PutUint16(dst[1:], uint16(len(key)))
	binary.LittleEndian.PutUint32(dst[3:], uint32(len(value)))
	v := view(dst)
	v.setExpires(it.Expires)
	v.setVersion(it.Version)
	o := headerSize
	if it.Flags != 0 {
		binary.LittleEndian.PutUint32(dst[o:], it.Flags)
		o += 4
	}
	if state&recUser != 0 {
		binary.LittleEndian.PutUint64(dst[o:], user)
		o += userField
	}
	if pad > 0 {
		binary.LittleEndian.PutUint16(dst[o:], uint16(pad-padField))
		o += padField
	}
	o += copy(dst[o:], key)
	o += copy(dst[o:], value)
	return v[:o]
}

// item describes a stored record without its value.
type item struct {
	// Expires is the absolute expiry in unix milliseconds; 0 means never.
	Expires int64
	// Flags are the opaque client flags stored with the record.
	Flags uint32
	// Version is the version of the record's last write.
	Version Version
}
