package cluster

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestSentMarksRoom: a stream with maxUnacked messages unacknowledged
// flushes and waits; an ack lets it go on; the stream's end or a stop ends
// the wait.
func TestSentMarksRoom(t *testing.T) {
	var m sentMarks
	var lag atomic.Int64
	acked := make(chan struct{}, 1)
	flushed := 0
	flush := func() error { flushed++; return nil }
	for i := range maxUnacked - 1 {
		m.add(uint64(i + 1))
	}
	if err := m.room(flush, acked, nil, nil); err != nil || flushed != 0 {
		t.Fatalf("with %d unacknowledged: %v, %d flushes; want no wait", maxUnacked-1, err, flushed)
	}
	m.add(maxUnacked)

	done := make(chan error, 1)
	go func() { done <- m.room(flush, acked, nil, nil) }()
	select {
	case err := <-done:
		t.Fatalf("with %d unacknowledged the stream went on: %v", maxUnacked, err)
	case <-time.After(50 * time.Millisecond):
	}
	m.acked(1, &lag)
	acked <- struct{}{}
	if err := <-done; err != nil || flushed != 1 {
		t.Fatalf("after an ack: %v, %d flushes; want nil after one flush", err, flushed)
	}

	m.add(maxUnacked + 1)
	errc := make(chan error, 1)
	errc <- errors.New("connection reset")
	if err := m.room(flush, acked, errc, nil); err == nil || err.Error() != "connection reset" {
		t.Errorf("the stream ended while waiting: got %v", err)
	}
	stop := make(chan struct{})
	close(stop)
	if err := m.room(flush, acked, nil, stop); err != errClosed {
		t.Errorf("stopped while waiting: got %v, want errClosed", err)
	}
}
