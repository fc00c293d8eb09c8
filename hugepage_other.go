//go:build !linux

package sessiond

// adviseHuge does nothing where transparent huge pages are not known.
func adviseHuge(b []byte) {}

// adviseSmall does nothing where transparent huge pages are not known.
func adviseSmall(b []byte) {}
