// Package prefetch asks the processor to bring memory into its cache ahead
// of use, so that the misses of several independent lookups overlap
// instead of following one another.
//
// A prefetch is a hint: it never faults, reads nothing the program sees and
// changes no memory, so it may name any address, even one another
// goroutine is writing. Go has no intrinsic for it; the amd64 and arm64
// versions are one instruction of assembly, elsewhere it does nothing.
package prefetch
