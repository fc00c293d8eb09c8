package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadReply(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     reply
		err      string // a part of the error's text; "" for none
	}{
		{"simple", "+OK\r\n", reply{kind: '+', text: "OK"}, ""},
		{"error", "-ERR no\r\n", reply{kind: '-', text: "ERR no"}, ""},
		{"integer", ":-12\r\n", reply{kind: ':', n: -12}, ""},
		{"bulk", "$3\r\na\r\n\r\n", reply{kind: '$', text: "a\r\n"}, ""},
		{"empty bulk", "$0\r\n\r\n", reply{kind: '$'}, ""},
		{"null bulk", "$-1\r\n", reply{kind: '_'}, ""},
		{"null array", "*-1\r\n", reply{kind: '_'}, ""},
		{"RESP3 null", "_\r\n", reply{kind: '_'}, ""},
		{"array", "*2\r\n$1\r\nk\r\n:5\r\n", reply{kind: '*', elems: []reply{{kind: '$', text: "k"}, {kind: ':', n: 5}}}, ""},
		{"map", "%1\r\n+key\r\n$1\r\nk\r\n", reply{kind: '*', elems: []reply{{kind: '+', text: "key"}, {kind: '$', text: "k"}}}, ""},
		{"empty array", "*0\r\n", reply{kind: '*', elems: []reply{}}, ""},
		{"no CRLF", "+OK\n", reply{}, "CRLF"},
		{"bad integer", ":x\r\n", reply{}, "integer"},
		{"bulk too long", "$" + strconv.Itoa(replyMaxBulk+1) + "\r\n", reply{}, "bulk length"},
		{"bulk without its CRLF", "$1\r\nab\r\n", reply{}, "CRLF"},
		{"negative length", "*-2\r\n", reply{}, "length"},
		{"too many elements", "*" + strconv.Itoa(replyMaxElements+1) + "\r\n", reply{}, "length"},
		{"too deep", strings.Repeat("*1\r\n", replyMaxDepth+1) + ":1\r\n", reply{}, "nested"},
		{"unknown type", "!5\r\n", reply{}, "unknown reply type"},
		{"line too long", "+" + strings.Repeat("a", replyMaxLine) + "\r\n", reply{}, "longer than"},
		{"cut bulk", "$5\r\nab", reply{}, io.ErrUnexpectedEOF.Error()},
		{"cut array", "*2\r\n:1\r\n", reply{}, io.ErrUnexpectedEOF.Error()},
		{"cut line", "+O", reply{}, io.ErrUnexpectedEOF.Error()},
		{"nothing", "", reply{}, io.EOF.Error()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), replyMaxLine))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("readReply(%.40q): %v", tt.in, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("readReply(%.40q) = %v, %v; want an error with %q", tt.in, got, err, tt.err)
			case tt.err == "" && !reflect.DeepEqual(got, tt.want):
				t.Errorf("readReply(%.40q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// A many-element header costs no memory until its elements come.
func TestReadReplyLengthNotTrusted(t *testing.T) {
	in := "*" + strconv.Itoa(replyMaxElements) + "\r\n:1\r\n"
	allocs := testing.AllocsPerRun(10, func() {
		readReply(bufio.NewReaderSize(strings.NewReader(in), replyMaxLine))
	})
	if allocs > 10 {
		t.Errorf("%v allocations for a reply that promises %d elements and ends after one", allocs, replyMaxElements)
	}
}

// FuzzReadReply reads replies from arbitrary bytes, whole and a byte at a
// time: both must read the same, and a command appendCommand wrote must
// read back as the array of its arguments.
func FuzzReadReply(f *testing.F) {
	for _, seed := range []string{
		"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$1\r\na\r\n", "$-1\r\n", "*-1\r\n", "_\r\n",
		"*1\r\n*8\r\n$3\r\nkey\r\n$6\r\nsess:a\r\n$3\r\nttl\r\n:-1\r\n$7\r\nwritten\r\n:1\r\n$4\r\nsize\r\n:2\r\n",
		"%1\r\n$3\r\nkey\r\n$1\r\nk\r\n", "*2\r\n:1\r\n", "$3\r\nab\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, errWhole := readReply(bufio.NewReaderSize(bytes.NewReader(data), replyMaxLine))
		bytewise, errBytes := readReply(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), replyMaxLine))
		if (errWhole == nil) != (errBytes == nil) || !reflect.DeepEqual(whole, bytewise) {
			t.Fatalf("whole: %+v, %v; a byte at a time: %+v, %v", whole, errWhole, bytewise, errBytes)
		}
		var pe *protocolError
		if errWhole != nil && !errors.As(errWhole, &pe) && !errors.Is(errWhole, io.EOF) && !errors.Is(errWhole, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v is neither a protocol error nor an end of input", errWhole)
		}

		// The data as the arguments of a command.
		args := strings.Split(string(data), "\n")
		r, err := readReply(bufio.NewReaderSize(bytes.NewReader(appendCommand(nil, args...)), replyMaxLine))
		if err != nil || r.kind != '*' || len(r.elems) != len(args) {
			t.Fatalf("the command %q read back as %+v, %v", args, r, err)
		}
		for i, e := range r.elems {
			if e.kind != '$' || e.text != args[i] {
				t.Fatalf("argument %d read back as %+v, want %q", i, e, args[i])
			}
		}
	})
}
