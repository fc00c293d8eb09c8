package prefetch

// The store's prefetch, for the server: a batch of commands' keys, whose
// index slots and records the store asks for (see sessiond's prefetch.go).
// It needs the store's internals, and is no part of its API, so the root
// package sets these functions when it is initialized, and only packages
// of this module can call them. A store is passed as any (the root package
// imports this one), and a batch by value: a slice passed through a
// function variable would move the caller's array to the heap.
var (
	// Helps reports whether prefetching may save time in store, a
	// *sessiond.Store: whether it is large enough for its records to fall
	// out of the processor's cache. Below that size Keys does nothing,
	// and a caller can skip finding the keys to give it.
	Helps func(store any) bool
	// Keys asks the processor for the memory the commands on the batch's
	// keys will touch in store, a *sessiond.Store. It changes nothing.
	Keys func(store any, b Batch)
)

// MaxKeys is the most keys a Batch holds.
const MaxKeys = 32

// A Batch is the keys of commands a client sent together.
type Batch struct {
	Keys [MaxKeys]string
	N    int // Keys[:N] are the batch's
	// Values asks for whole records, for commands that read the value
	// (GET); without, only for the start of each record, which holds
	// the key and what a write or an expiry changes.
	Values bool
}

// Add appends key to b; past MaxKeys keys, it ignores the rest.
func (b *Batch) Add(key string) {
	if b.N < MaxKeys {
		b.Keys[b.N] = key
		b.N++
	}
}
