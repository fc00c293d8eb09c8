package cluster

import "fmt"

// Data protocol versions. A node speaks every version from protoMin to
// protoMax; two nodes speak the highest version both do, so that a node
// of the next release joins a cluster of this one and a rolling upgrade
// keeps serving. A node advertises its range in its gossip metadata and in
// the hello of every data connection, and refuses a peer whose range does
// not meet its own.
//
// Version 1 is the protocol of the stream, sync and repair messages in
// wire.go. A release that changes them adds version 2, and keeps speaking
// 1 for one release at least.
//
// Both the metadata and the hello are read forward-compatibly: a later
// release appends fields, and this one reads the fields it knows and
// ignores the rest.
const (
	protoMin = 1
	protoMax = 1
)

// protoRange is the data protocol versions a node speaks.
type protoRange struct{ lo, hi uint16 }

// ours is the range this build speaks; tests widen it to play a node of a
// later release.
var ours = protoRange{protoMin, protoMax}

// common returns the highest version both ranges hold, or an error that
// says what to do.
func (r protoRange) common(name string, them protoRange) (uint16, error) {
	v := min(r.hi, them.hi)
	if v < max(r.lo, them.lo) {
		return 0, fmt.Errorf("node %q speaks data protocol versions %d to %d and this one %d to %d: upgrade a cluster one release at a time",
			name, them.lo, them.hi, r.lo, r.hi)
	}
	return v, nil
}
