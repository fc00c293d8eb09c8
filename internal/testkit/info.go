package testkit

import "strings"

// InfoFields returns the fields of the text of an INFO reply, by name: each
// "name:value" line, its CRLF removed. Section headers ("# Server") and
// blank lines are not fields. A value keeps any colons after the first
// (INFO cluster's "member0:name=n0,addr=127.0.0.1:7946,...").
func InfoFields(text string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(text, "\r\n") {
		if name, value, ok := strings.Cut(line, ":"); ok {
			fields[name] = value
		}
	}
	return fields
}
