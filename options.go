package sessiond

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sessiond/sessiond/internal/disk"
)

// Policy says what the store does when a write would take it past
// Options.MaxMemory.
type Policy uint8

const (
	// NoEviction refuses the write with ErrOutOfMemory. Nothing stored is
	// lost. It is the default: a session store should not log users out
	// silently.
	NoEviction Policy = iota
	// VolatileTTL evicts the sessions that expire soonest, and only
	// sessions that have an expiry; when none is left, writes get
	// ErrOutOfMemory.
	VolatileTTL
	// AllKeysLRU evicts the least recently used sessions (approximately:
	// the oldest-written first, with a second chance for those read since).
	AllKeysLRU
)

var policyNames = [...]string{
	NoEviction:  "noeviction",
	VolatileTTL: "volatile-ttl",
	AllKeysLRU:  "allkeys-lru",
}

// String returns the policy's name as Redis spells it ("noeviction",
// "volatile-ttl", "allkeys-lru").
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", p)
}

// ParsePolicy returns the policy with the given Redis name.
func ParsePolicy(name string) (Policy, error) {
	for p, n := range policyNames {
		if n == name {
			return Policy(p), nil
		}
	}
	return 0, fmt.Errorf("sessiond: unknown maxmemory policy %q (want noeviction, volatile-ttl or allkeys-lru)", name)
}

// MaxKeySize is the longest key the store accepts, in bytes.
const MaxKeySize = 1<<16 - 1

// Options configure a Store. The zero value, and a nil *Options, give the
// defaults.
type Options struct {
	// MaxMemory caps the memory the store's records and index take, in
	// bytes. If zero, there is no cap.
	MaxMemory int64

	// Policy applies when a write would pass MaxMemory. If zero, it is
	// NoEviction.
	Policy Policy

	// MaxValueSize is the longest value accepted, in bytes. If zero, it
	// defaults to 1 MiB.
	MaxValueSize int

	// Shards is the number of independently locked partitions, rounded up
	// to a power of two. If zero, it defaults to 128.
	Shards int

	// NodeID is stamped on every local write's Version. Nodes of one
	// cluster need distinct ids. If zero, it defaults to 1.
	NodeID uint32

	// Tombstones keeps a versioned tombstone for every delete, so that a
	// write with a lower version (a late replica) cannot bring the key
	// back. A cluster turns it on; a single node does not need it.
	Tombstones bool

	// TombstoneTTL is the least time a tombstone is kept. A tombstone also
	// lives as long as the deleted record could have. If zero, it defaults
	// to 24 hours.
	TombstoneTTL time.Duration

	// ReapInterval is how often expired records are reclaimed in the
	// background. If zero, it defaults to 250ms.
	ReapInterval time.Duration

	// Now returns the current time. If nil, it is time.Now. Tests set it to
	// drive expiry without sleeping.
	Now func() time.Time

	// Replicator, if set, receives every local change to copy it to other
	// stores (package cluster installs one). It turns Tombstones on.
	Replicator Replicator

	// Dir is the data directory. If set, every change (local writes,
	// replicated ones, deletes, clears, evictions) goes to a log there
	// before the operation that made it returns, the log is compacted
	// into snapshots, and Open loads what the directory holds. The
	// directory is locked: a second store, in this process or another,
	// gets an error naming the process that holds it. If empty, the
	// store is in memory only, and lost when it closes. A data directory
	// needs a unix system (Linux, macOS, BSD), whose flock the kernel
	// releases when its holder dies; elsewhere Open refuses it.
	Dir string

	// Fsync says when the log is flushed to the disk. If zero,
	// FsyncEverySec.
	Fsync FsyncPolicy

	// DeferWrites lets a change return once its log entry is queued,
	// before it is written to the log (and, under FsyncAlways, flushed):
	// the caller then calls Commit once before it acknowledges a batch of
	// changes, as a server does for a batch of pipelined commands, and
	// the batch takes one write and one flush. Until Commit, a crash of
	// the process may lose the batch. If false, every change returns
	// committed.
	DeferWrites bool

	// CompactMinSize is the least size of the log written since the last
	// snapshot that starts a new snapshot by itself; it also waits for
	// the log to pass the last snapshot's size. If zero, 64 MiB.
	CompactMinSize int64

	// Repair loads a damaged data directory as far as it can instead of
	// failing: a log is cut at its first damaged entry, and what is cut
	// is kept beside it in a file named for the offset; a damaged
	// snapshot is loaded up to the damage and kept as *.damaged.
	Repair bool

	// LoadInBackground makes Open return at once and load the data
	// directory meanwhile: until Loaded is closed, operations return
	// ErrLoading. If false, Open returns once the directory is loaded.
	LoadInBackground bool

	// UserID, if set, turns the user index on (Store.UserSessions,
	// CountUserSessions, RevokeUser): it returns the id of the user a
	// session's value belongs to, and ok false for a value that belongs
	// to no user (before a login, or not of the expected encoding). The
	// store files every session under its user as it is written, and takes
	// it out as it goes, however it goes. UserID is called with a shard of
	// the store locked, on every write of a value, so it must be quick,
	// must not call the store, and must not keep value; id may be a part
	// of value. It must be a function of value alone: the same value always
	// belongs to the same user. If nil, there is no index.
	//
	// For JSON sessions, such as express-session's with passport, the
	// server reads the id at a JSON path (its --user-field flag); an
	// embedder with another encoding (gob, from scs or gorilla/sessions)
	// decodes its own.
	UserID func(value []byte) (id []byte, ok bool)

	// Logger receives the data directory's events: the load, torn tails
	// cut, snapshots, disk errors. If nil, they are not logged.
	Logger *slog.Logger

	logOptions disk.LogOptions // tests inject disk failures and small chunks
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.MaxValueSize <= 0 {
		v.MaxValueSize = 1 << 20
	}
	if v.Shards <= 0 {
		v.Shards = 128
	}
	n := 1
	for n < v.Shards {
		n <<= 1
	}
	v.Shards = n
	if v.NodeID == 0 {
		v.NodeID = 1
	}
	if v.TombstoneTTL <= 0 {
		v.TombstoneTTL = 24 * time.Hour
	}
	if v.ReapInterval <= 0 {
		v.ReapInterval = 250 * time.Millisecond
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.CompactMinSize <= 0 {
		v.CompactMinSize = compactMin
	}
	if v.Replicator != nil {
		v.Tombstones = true
	}
	return v
}
