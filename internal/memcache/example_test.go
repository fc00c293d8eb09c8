package memcache_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sessiond/sessiond/internal/memcache"
)

// A server's loop: read a command, answer it, and flush when the reader is
// about to wait for more input.
func Example() {
	in := strings.NewReader("set sess:1 2 60 7\r\n{\"u\":1}\r\nget sess:1 sess:2\r\nincr\r\n")
	var out bytes.Buffer
	w := memcache.NewWriter(&out)
	r := memcache.NewReader(in, memcache.Limits{})
	r.BeforeRead = w.Flush
	stored := map[string][]byte{}
	for {
		cmd, err := r.Read()
		var ce *memcache.CommandError
		switch {
		case errors.As(err, &ce):
			if !ce.NoReply {
				w.Line(ce.Reply)
			}
			if ce.Fatal {
				return
			}
			continue
		case err == io.EOF:
			w.Flush()
			fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
			return
		}
		switch cmd.Op {
		case memcache.Set:
			stored[string(cmd.Key)] = bytes.Clone(cmd.Data)
			w.Line(memcache.Stored)
		case memcache.Get:
			for _, k := range cmd.Keys {
				if v, ok := stored[string(k)]; ok {
					w.Value(k, 2, v)
				}
			}
			if !cmd.More { // a long get comes in batches
				w.Line(memcache.End)
			}
		}
	}
	// Output:
	// STORED
	// VALUE sess:1 2 7
	// {"u":1}
	// END
	// ERROR
}
