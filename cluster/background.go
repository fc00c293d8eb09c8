package cluster

import "runtime"

// backgroundNice is the nice value of the threads that run repair rounds
// that can wait: 10 gives a thread about a tenth of the weight of a
// thread at 0, so the kernel lets the node's event loop and connections
// run first whenever they are ready, while repair still has every cycle
// nobody else wants. Pacing (pace.go) bounds how much of a core a round
// takes; the priority bounds how long a write waits behind it.
const backgroundNice = 10

// inBackground runs f on a thread of its own at backgroundNice and returns
// when f does. The goroutine keeps its thread locked to the end, so the
// thread ends with it and its priority is never lent to other goroutines
// (raising it back would need a privilege). Where threads have no
// priority of their own, f runs as any goroutine does.
func inBackground(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: see above
		lowerThreadPriority(backgroundNice)
		f()
	}()
	<-done
}
