package cluster

import (
	"errors"
	"strings"
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
	a.start("p1", 1, 0)
	a.start("p2", 1, 0)
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
	// A hole: p1 never got 7 and 8 (dropped, or refused); acking 10
	// covers the rest only.
	a.hole("p1", 7, 9)
	a.set("p1", 10)
	for ticket, want := range map[uint64]bool{6: true, 7: false, 8: false, 9: true, 10: true, 11: false} {
		if got := a.reached(ticket) >= 1 && a.peers["p1"].has(ticket); got != want {
			t.Errorf("p1 has %d: %v, want %v", ticket, got, want)
		}
	}
	// A peer that started late counts for nothing before.
	a.start("p3", 20, 30)
	if a.peers["p3"].has(19) || !a.peers["p3"].has(20) {
		t.Error("a late peer counted for an entry before its start, or not for its first")
	}
	a.remove("p2")
	if err := a.wait(5, 2, 10*time.Millisecond); err == nil {
		t.Error("k=2 with one peer left returned nil")
	}
	// Close releases waiters, which fail.
	go func() { done <- a.wait(100, 1, time.Hour) }()
	time.Sleep(10 * time.Millisecond)
	a.close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a wait released by close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not release a waiter")
	}
}

// A wait whose caller gives up (WAIT on a connection Shutdown stops) ends
// at once with what it has.
func TestAcksWaitCancel(t *testing.T) {
	a := newAcks()
	a.start("p1", 0, 0)
	cancel := make(chan struct{})
	got := make(chan int, 1)
	go func() { got <- a.waitCount(5, 1, time.Hour, cancel) }()
	time.Sleep(10 * time.Millisecond)
	close(cancel)
	select {
	case n := <-got:
		if n != 0 {
			t.Errorf("waitCount = %d; want 0", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closing cancel did not end the wait")
	}
	if err := a.waitOr(5, 1, time.Hour, cancel); !errors.Is(err, errWaitCancelled) {
		t.Errorf("waitOr with a closed cancel = %v", err)
	}
}

// waiting returns once a.waiters holds n waiters.
func waiting(t *testing.T, a *acks, n int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		a.mu.Lock()
		k := len(a.waiters)
		a.mu.Unlock()
		if k == n {
			return
		}
	}
	t.Fatalf("never %d waiters", n)
}

// TestAcksPeerLeavesAfterApplying: a write that a peer applied counts for
// it even when the peer leaves before the waiter wakes (it had failed with
// NOREPLICAS at once, saying "within 2s").
func TestAcksPeerLeavesAfterApplying(t *testing.T) {
	a := newAcks()
	a.start("p1", 1, 0)
	a.start("p2", 1, 0)
	done := make(chan error, 1)
	go func() { done <- a.wait(5, 1, 5*time.Second) }()
	waiting(t, a, 1)
	// p1 applies the write and leaves before the waiter runs again.
	a.mu.Lock()
	a.peers["p1"].upTo = 5
	a.release()
	delete(a.peers, "p1")
	a.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("a write p1 applied failed once p1 left: %v", err)
	}
}

// TestAcksPeerLeavesWhileWaiting: a write waiting for one peer goes on
// waiting for the other when one leaves, and succeeds through it; one that
// waits for more peers than remain fails at once, saying so.
func TestAcksPeerLeavesWhileWaiting(t *testing.T) {
	a := newAcks()
	a.start("p1", 1, 0)
	a.start("p2", 1, 0)
	one := make(chan error, 1)
	two := make(chan error, 1)
	go func() { one <- a.wait(5, 1, 5*time.Second) }()
	go func() { two <- a.wait(5, 2, 5*time.Second) }()
	waiting(t, a, 2)
	start := time.Now()
	a.remove("p1")
	select {
	case err := <-two:
		if err == nil || !strings.Contains(err.Error(), "only 1 peers remain") {
			t.Errorf("k=2 with one peer left: %v", err)
		}
		if time.Since(start) > time.Second {
			t.Error("k=2 with one peer left waited for its timeout")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("k=2 still waiting with one peer left")
	}
	select {
	case err := <-one:
		t.Fatalf("k=1 ended when p1 left, with p2 still there: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	a.set("p2", 5)
	if err := <-one; err != nil {
		t.Fatalf("k=1 after p2 applied it: %v", err)
	}
}
