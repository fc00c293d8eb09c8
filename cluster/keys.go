package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/memberlist"
)

// ErrNoCommonKey refuses a join through peers that cannot read this
// node's gossip or whose gossip it cannot read: one side's first key is
// not among the other's keys (Config.Keys), or one side has keys and the
// other none.
var ErrNoCommonKey = errors.New("no cluster key in common")

// keyring returns memberlist's keyring for keys: the first encrypts, and
// memberlist tries each in order on what it receives. Nil without keys.
func keyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ring, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, fmt.Errorf("cluster: keyring: %w", err)
	}
	return ring, nil
}

// keyRefusals are memberlist's (v0.7.0) words for a message that this
// node's keys, or its peer's, do not open; memberlist has no error values
// for them.
var keyRefusals = []string{
	"no installed keys could decrypt the message",
	"encryption is configured but remote state is not encrypted",
	"remote state is encrypted and encryption is not configured",
}

// explainKeys returns, for a failed join's error in which memberlist says
// the keys did not match, ErrNoCommonKey and what to check; other errors
// as they are.
func explainKeys(err error) error {
	for _, r := range keyRefusals {
		if strings.Contains(err.Error(), r) {
			// memberlist's error is a list over several lines; its
			// one fact is r.
			return fmt.Errorf("%w: each node's first key must be among every other node's keys (memberlist: %s)", ErrNoCommonKey, r)
		}
	}
	return err
}
