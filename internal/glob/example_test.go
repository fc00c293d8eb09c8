package glob_test

import (
	"fmt"

	"github.com/sessiond/sessiond/internal/glob"
)

func ExampleMatch() {
	fmt.Println(glob.Match("sess:*", "sess:42"))
	fmt.Println(glob.Match("sess:[0-9]?", "sess:42"))
	fmt.Println(glob.Match("sess:[^0-9]*", "sess:42"))
	fmt.Println(glob.Match(`price\?`, "price?"))
	// Output:
	// true
	// true
	// false
	// true
}

func ExampleLiteralPrefix() {
	// Every key matching the pattern starts with the prefix, so a scan over
	// sorted keys can seek straight to it.
	fmt.Printf("%q\n", glob.LiteralPrefix("sess:*"))
	fmt.Printf("%q\n", glob.LiteralPrefix(`tag\*:a?`))
	fmt.Printf("%q\n", glob.LiteralPrefix("[ab]:x"))
	// Output:
	// "sess:"
	// "tag*:a"
	// ""
}
