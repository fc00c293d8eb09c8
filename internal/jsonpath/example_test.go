package jsonpath_test

import (
	"fmt"

	"github.com/sessiond/sessiond/internal/jsonpath"
)

func ExampleLookup() {
	paths, err := jsonpath.Parse("passport.user")
	if err != nil {
		panic(err)
	}
	// What express-session and passport store for a logged-in user.
	value := []byte(`{"cookie":{"originalMaxAge":86400000,"httpOnly":true,"path":"/"},"passport":{"user":"42"}}`)
	id, ok := jsonpath.Lookup(value, paths)
	fmt.Printf("%s %v\n", id, ok)

	// Before login there is no passport field, so no user.
	_, ok = jsonpath.Lookup([]byte(`{"cookie":{"path":"/"}}`), paths)
	fmt.Println(ok)
	// Output:
	// 42 true
	// false
}

func ExampleParse() {
	// A key with a dot or a comma in it is written with a backslash.
	paths, err := jsonpath.Parse(`passport.user, auth\.v2.sub`)
	if err != nil {
		panic(err)
	}
	for _, p := range paths {
		fmt.Printf("%q\n", p.Keys())
	}
	// Output:
	// ["passport" "user"]
	// ["auth.v2" "sub"]
}
