package main

import (
	"errors"

	"github.com/sessiond/sessiond/cluster"
	"github.com/sessiond/sessiond/server"
)

// flagHints name the flags that change what a library refused. The
// libraries name their own settings (server.Config.MemcacheInsecure,
// cluster.Config.Keys), and only this program knows its flags: adding a
// refusal is one entry here.
var flagHints = []struct {
	err   error
	flags string
}{
	{server.ErrMemcacheNoAuth, "--memcache-insecure"},
	{cluster.ErrInsecure, "--cluster-key, or --cluster-insecure"},
	{cluster.ErrNameConflict, "--node-name"},
	{cluster.ErrNoCommonKey, "--cluster-key"},
	{cluster.ErrMaxValueSize, "--max-value-size"},
}

// explain returns err's message with the flags that change what it
// refused, if any: "... (--node-name)".
func explain(err error) string {
	for _, h := range flagHints {
		if errors.Is(err, h.err) {
			return err.Error() + " (" + h.flags + ")"
		}
	}
	return err.Error()
}
