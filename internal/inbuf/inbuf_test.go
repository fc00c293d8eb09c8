package inbuf

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFill(t *testing.T) {
	src := strings.NewReader(strings.Repeat("x", 100))
	buf := make([]byte, 8)
	r, w := 0, 0
	var err error
	for {
		buf, r, w, err = Fill(iotest.OneByteReader(src), buf, r, w, 64)
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) || len(buf) != 64 || w != 64 {
		t.Fatalf("after filling: len %d, w %d, err %v; want 64, 64, ErrFull", len(buf), w, err)
	}
	// Consumed bytes move out of the way.
	_, r, w, err = Fill(src, buf, 60, 64, 64)
	if err != nil || r != 0 || w <= 4 {
		t.Fatalf("after consuming 60: r %d, w %d, %v", r, w, err)
	}
	if _, _, _, err := Fill(bytes.NewReader(nil), make([]byte, 4), 0, 0, 4); err != io.EOF {
		t.Errorf("at EOF: %v", err)
	}
	if _, _, _, err := Fill(emptyReader{}, make([]byte, 4), 0, 0, 4); err != io.ErrNoProgress {
		t.Errorf("a reader returning 0, nil for ever: %v, want io.ErrNoProgress", err)
	}
	if _, _, _, err := Fill(badReader{}, make([]byte, 4), 0, 0, 4); err == nil {
		t.Error("a reader returning more than asked: no error")
	}
}

func TestShrink(t *testing.T) {
	buf := make([]byte, 1024)
	copy(buf[100:], "abc")
	nb, r, w := Shrink(buf, 100, 103, 16)
	if len(nb) != 16 || r != 0 || w != 3 || string(nb[:3]) != "abc" {
		t.Fatalf("Shrink = len %d, %d, %d %q", len(nb), r, w, nb[:w])
	}
	if nb, _, _ := Shrink(buf, 0, 100, 16); len(nb) != 1024 {
		t.Error("shrank a buffer holding more than the initial size")
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return len(p) + 1, nil }
