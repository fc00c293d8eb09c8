package sessiond

import "time"

// Version orders the writes of one key across every node of a cluster. The
// higher version wins everywhere: in replication, join sync and repair.
//
// Time is a hybrid logical clock stamp (see internal/hlc): the wall clock in
// milliseconds in the upper 48 bits and a logical counter in the lower 16.
// Node is the writing node's id and breaks ties between equal stamps.
type Version struct {
	Time uint64
	Node uint32
}

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than w.
func (v Version) Compare(w Version) int {
	switch {
	case v.Time < w.Time:
		return -1
	case v.Time > w.Time:
		return 1
	case v.Node < w.Node:
		return -1
	case v.Node > w.Node:
		return 1
	}
	return 0
}

// wallMS returns the wall clock time of the version, unix milliseconds.
func (v Version) wallMS() int64 { return int64(v.Time >> 16) }

// IsZero reports whether v is the zero version, which every real write
// exceeds.
func (v Version) IsZero() bool { return v == Version{} }

// Record is one session as it is stored and replicated (see Replica): in
// the form the data directory's log and the cluster's wire hold it, its
// expiry in unix milliseconds, as its Version's clock counts.
type Record struct {
	// Key names the session. Keys are at most MaxKeySize bytes; the empty
	// key is valid, as in Redis.
	Key string
	// Value is the session's bytes, opaque to the store.
	Value []byte
	// Expires is the absolute expiry in unix milliseconds; 0 means never.
	Expires int64
	// Flags are opaque client flags (the memcached protocol stores and
	// returns them unchanged). Zero for most clients.
	Flags uint32
	// Version is the write's version; the higher one wins.
	Version Version
	// Deleted marks a tombstone: the key was deleted at Version, and any
	// write with a lower version must not bring it back.
	Deleted bool
}

// Item describes a stored record without its value.
type Item struct {
	// Flags are the opaque flags stored with the value (memcached's).
	Flags uint32
	// Version is the version of the record's last write. Every write
	// changes it; memcached's cas unique is its Time.
	Version Version

	// The expiry as the store keeps it, in unix ms: a Lookup copies it,
	// and only a caller that asks for the time converts it (a time.Time
	// in the Item made a lookup of a store larger than the processor's
	// cache a quarter slower).
	expires int64
}

// Expires returns when the record expires, to the millisecond; the zero
// Time if never.
func (it Item) Expires() time.Time { return timeOf(it.expires) }

// public is it as the API gives it.
func (it item) public() Item {
	return Item{Flags: it.Flags, Version: it.Version, expires: it.Expires}
}

// timeOf is the time of an expiry in unix ms, 0 for never.
func timeOf(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// expiresMS is the expiry t in unix ms, as the store keeps it: 0 for the
// zero Time (never), rounded up to the millisecond (a key never expires
// before t), -1 for a time at or before 1970 (past), and maxExpires for
// one past the latest the store keeps.
func expiresMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	switch {
	case s < 0:
		return -1
	case s >= maxExpires/1000:
		return maxExpires
	}
	ns := int64(t.Nanosecond())
	ms := s*1000 + ns/1e6
	if ns%1e6 != 0 {
		ms++
	}
	if ms == 0 {
		return -1
	}
	return ms
}
