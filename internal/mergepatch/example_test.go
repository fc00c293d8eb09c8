package mergepatch_test

import (
	"errors"
	"fmt"

	"github.com/sessiond/sessiond/internal/mergepatch"
)

func ExampleApply() {
	session := []byte(`{"cookie":{"path":"/"},"passport":{"user":"u-1"},"cart":{"n":1,"sku":"A"},"flash":"hi"}`)
	// One request changed the cart and consumed the flash message.
	patch := []byte(`{"cart":{"n":2},"flash":null}`)
	out, err := mergepatch.Apply(session, patch)
	fmt.Println(string(out), err)
	// Output: {"cookie":{"path":"/"},"passport":{"user":"u-1"},"cart":{"n":2,"sku":"A"}} <nil>
}

func ExampleApply_invalid() {
	_, err := mergepatch.Apply([]byte(`{"a":1}`), []byte(`{"a":2,}`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, mergepatch.ErrPatch))
	// Output:
	// patch: invalid character '}' looking for beginning of object key string at byte 7
	// true
}

func ExampleAppendApply() {
	// A server reuses one buffer across calls: in a steady state
	// AppendApply allocates nothing.
	buf := make([]byte, 0, 512)
	for _, patch := range []string{`{"views":1}`, `{"views":2,"lang":"fr"}`} {
		var err error
		buf, err = mergepatch.AppendApply(buf[:0], []byte(`{"views":0}`), []byte(patch))
		fmt.Println(string(buf), err)
	}
	// Output:
	// {"views":1} <nil>
	// {"views":2,"lang":"fr"} <nil>
}
