package resp_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sessiond/sessiond/internal/resp"
)

// A server reads commands until the client goes, and flushes its replies
// before the reader waits for more input: when the batch of commands the
// client sent is done.
func Example() {
	in := strings.NewReader(
		"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n" + // the array form
			"GET key\r\n" + // the inline form
			"*2\r\n$3\r\nGET\r\n") // an array cut short
	r := resp.NewReader(in, resp.Limits{})
	w := resp.NewWriter(conn{})
	r.BeforeRead = w.Flush
	for {
		args, err := r.ReadCommand()
		var perr *resp.ProtocolError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &perr):
			w.Error("ERR " + perr.Error())
			w.Flush()
			return
		case err != nil:
			fmt.Println("connection:", err)
			return
		}
		fmt.Printf("%q\n", args)
		w.OK()
	}
	// Output:
	// ["SET" "key" "value"]
	// ["GET" "key"]
	// sent "+OK\r\n+OK\r\n"
	// connection: unexpected EOF
}

// conn shows what a server sends.
type conn struct{}

func (conn) Write(p []byte) (int, error) {
	fmt.Printf("sent %q\n", p)
	return len(p), nil
}

// The same reply in the two protocol versions.
func ExampleWriter() {
	for _, proto := range []int{2, 3} {
		var out strings.Builder
		w := resp.NewWriter(&out)
		w.Proto = proto
		w.Map(2)
		w.BulkString("proto")
		w.Int(int64(proto))
		w.BulkString("ok")
		w.Bool(true)
		w.Flush()
		fmt.Printf("%q\n", out.String())
	}
	// Output:
	// "*4\r\n$5\r\nproto\r\n:2\r\n$2\r\nok\r\n:1\r\n"
	// "%2\r\n$5\r\nproto\r\n:3\r\n$2\r\nok\r\n#t\r\n"
}
