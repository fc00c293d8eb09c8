package cluster

import (
	"runtime"
	"syscall"
	"testing"
)

// threadNice returns the calling thread's nice value (the system call
// answers 20 minus it).
func threadNice(t *testing.T) int {
	t.Helper()
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - prio
}

// TestInBackground: f runs on a thread at backgroundNice, and no thread
// keeps that priority for other goroutines afterwards: the caller's is
// unchanged, and so is every thread a burst of goroutines runs on.
func TestInBackground(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice(t)
	if before >= backgroundNice {
		t.Skipf("the test runs at nice %d already, at or above %d", before, backgroundNice)
	}
	var inside int
	ran := false
	inBackground(func() {
		ran = true
		inside = threadNice(t)
	})
	if !ran {
		t.Fatal("inBackground returned without running f")
	}
	if inside != backgroundNice {
		t.Fatalf("f ran at nice %d, want %d", inside, backgroundNice)
	}
	if got := threadNice(t); got != before {
		t.Fatalf("the caller's thread is at nice %d after inBackground, was %d", got, before)
	}
	// The background thread ended with its goroutine: goroutines that
	// run next find their threads at the priority they had.
	for range 10 {
		inBackground(func() {})
	}
	niced := make(chan int, 64)
	for range cap(niced) {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			niced <- threadNice(t)
		}()
	}
	for range cap(niced) {
		if n := <-niced; n != before {
			t.Fatalf("a goroutine ran on a thread at nice %d after inBackground, want %d", n, before)
		}
	}
}
