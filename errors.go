package sessiond

import "errors"

// Errors returned by the store. They are wrapped with %w and a message that
// names the key or the limit, so test for them with errors.Is.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("sessiond: store closed")
	// ErrKeyTooLarge is returned for a key longer than MaxKeySize.
	ErrKeyTooLarge = errors.New("sessiond: key too large")
	// ErrValueTooLarge is returned for a value longer than
	// Options.MaxValueSize. Nothing is stored.
	ErrValueTooLarge = errors.New("sessiond: value too large")
	// ErrOutOfMemory is returned when a write would take the store past
	// Options.MaxMemory and the eviction policy cannot make room. Nothing
	// already stored is lost.
	ErrOutOfMemory = errors.New("sessiond: out of memory")
	// ErrNotStored is returned by a conditional Write whose condition
	// failed (IfAbsent on a present key, IfPresent on a missing one).
	ErrNotStored = errors.New("sessiond: not stored")
)
