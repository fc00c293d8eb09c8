package cluster

import (
	"testing"
	"time"
)

func TestAcks(t *testing.T) {
	a := newAcks()
	if err := a.wait(1, 0, time.Millisecond); err != nil {
		t.Fatalf("k=0 waited: %v", err)
	}
	if err := a.wait(1, 1, 20*time.Millisecond); err == nil {
		t.Fatal("k=1 with no peer returned nil")
	}
	done := make(chan error, 1)
	go func() { done <- a.wait(5, 2, 5*time.Second) }()
	a.set("p1", 5)
	a.set("p2", 4)
	select {
	case err := <-done:
		t.Fatalf("released with one peer at 5 and one at 4: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	a.set("p2", 6)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not released when two peers passed the ticket")
	}
	a.set("p1", 3) // acks never go back
	if seq, _ := a.get("p1"); seq != 5 {
		t.Errorf("p1 at %d after a lower ack, want 5", seq)
	}
	a.remove("p2")
	if err := a.wait(5, 2, 10*time.Millisecond); err == nil {
		t.Error("k=2 with one peer left returned nil")
	}
}
