//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "eventloop: Linux only (it uses epoll)")
	os.Exit(2)
}
