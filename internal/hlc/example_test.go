package hlc_test

import (
	"fmt"

	"github.com/sessiond/sessiond/internal/hlc"
)

func ExampleClock() {
	// A fake wall clock makes the output deterministic; production code
	// passes nil to read the system clock.
	wall := int64(1_700_000_000_000)
	c := hlc.New(func() int64 { return wall })

	a := c.Now()
	b := c.Now() // same millisecond: the logical counter moves on

	// A peer two seconds ahead sends us a stamp; our next one follows it.
	c.Update(hlc.Make(wall+2000, 5))
	d := c.Now()

	for _, ts := range []uint64{a, b, d} {
		fmt.Println(hlc.Physical(ts)-wall, hlc.Logical(ts))
	}
	// Output:
	// 0 0
	// 0 1
	// 2000 6
}
