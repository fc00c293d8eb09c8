package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/server"
)

// A get or gets may ask for any number of keys, as in memcached:
// gomemcache's GetMulti sends every key for a server on one line. The
// reader hands the keys over in batches; the reply is one VALUE per hit,
// in the order asked, and one END after the last batch.
func TestMCGetManyKeys(t *testing.T) {
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	hits := []int{5, 1023, 1024, 2500, 2999} // either side of the batches' edges
	for _, i := range hits {
		c.do(fmt.Sprintf("set k%d 0 0 1\r\nx\r\n", i), "STORED\r\n")
	}
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	for _, op := range []string{"get", "gets", "gat 0"} {
		c.writeString(op + " " + strings.Join(keys, " ") + "\r\nversion\r\n")
		for _, i := range hits {
			if l := c.line(""); !strings.HasPrefix(l, fmt.Sprintf("VALUE k%d 0 1", i)) {
				t.Fatalf("%s of 3000 keys: got %q, want the VALUE of k%d", op, l, i)
			}
			c.expectBytes("x\r\n", "a value")
		}
		c.expectBytes("END\r\nVERSION 1.6.18\r\n", op+" of 3000 keys: the end of the reply")
	}
}

// A get line may be longer than other commands' 64 KiB, as in memcached,
// which reads get lines of any length: here 300 keys of 240 bytes, 72 KB.
func TestMCLongGetLine(t *testing.T) {
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = strings.ReplaceAll(fmt.Sprintf("%-240d", i), " ", "x")
	}
	c.do("set "+keys[299]+" 3 0 2\r\nhi\r\n", "STORED\r\n")
	c.writeString("get " + strings.Join(keys, " ") + "\r\nversion\r\n")
	c.expectBytes("VALUE "+keys[299]+" 3 2\r\nhi\r\nEND\r\nVERSION 1.6.18\r\n", "a 72 KB get line")
}

// A bad key anywhere in a long get line, after the first batch of keys
// too, refuses the whole line: nothing is answered for the keys before it,
// as in memcached, and the connection goes on.
func TestMCGetManyKeysOneBad(t *testing.T) {
	ts := startMC(t, server.Config{}, nil)
	c := ts.mc(t)
	c.do("set k5 0 0 1\r\nx\r\n", "STORED\r\n")
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	keys[2500] = strings.Repeat("k", 251)
	c.writeString("get " + strings.Join(keys, " ") + "\r\nversion\r\n")
	c.expectBytes("CLIENT_ERROR bad command line format\r\nVERSION 1.6.18\r\n", "a key of 251 bytes at 2500 of 3000")
}

// A get line is still bounded, at 2 MiB: past it the line is refused and
// the connection closed, as for other commands past 64 KiB. Other
// connections are served on.
func TestMCGetLineOverBound(t *testing.T) {
	ts := startMC(t, server.Config{}, nil)
	other := ts.mc(t)
	c := ts.mc(t)
	c.writeString("get " + strings.Repeat("k ", 1<<20) + "\r\n")
	c.expectBytes("CLIENT_ERROR line too long\r\n", "a get line over 2 MiB")
	if rest := string(c.expectClosed()); rest != "" {
		t.Errorf("then %q before the close", clip([]byte(rest)))
	}
	checkServesMC(t, other)
}
