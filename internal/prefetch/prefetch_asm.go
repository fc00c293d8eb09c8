//go:build amd64 || arm64

package prefetch

// Line asks for the cache line that holds addr.
func Line(addr uintptr)
