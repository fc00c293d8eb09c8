package main

import (
	"fmt"
	"strings"
)

// The flag package's messages for the mistakes it finds, with the flag's
// name after them as the user wrote it but for its dashes.
const (
	flagUndefined = "flag provided but not defined: "
	flagNoValue   = "flag needs an argument: "
)

// flagError rewords an error of the flag package as one line that points to
// --help: "unknown flag --foo; see sessiond --help". The package's own
// wording names the flag with one dash, which sessiond's help never shows.
func flagError(err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, flagUndefined):
		return fmt.Errorf("unknown flag --%s; see sessiond --help", strings.TrimLeft(msg[len(flagUndefined):], "-"))
	case strings.HasPrefix(msg, flagNoValue):
		return fmt.Errorf("flag --%s needs a value; see sessiond --help", strings.TrimLeft(msg[len(flagNoValue):], "-"))
	}
	return fmt.Errorf("%w; see sessiond --help", err)
}
