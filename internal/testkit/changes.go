package testkit

import (
	"sync"
	"time"
)

// Changes calls look every interval in a goroutine, from now until the
// returned stop is called (and once more then), and records each value that differs from the one
// before: the states a test sees something go through ("alive", "suspect",
// "failed"). stop waits for the goroutine and returns the values in
// order.
func Changes(interval time.Duration, look func() string) (stop func() []string) {
	var seen []string
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	record := func() {
		if v := look(); len(seen) == 0 || seen[len(seen)-1] != v {
			seen = append(seen, v)
		}
	}
	go func() {
		defer wg.Done()
		for {
			record()
			select {
			case <-quit:
				record() // one last look
				return
			case <-time.After(interval):
			}
		}
	}()
	return func() []string {
		close(quit)
		wg.Wait()
		return seen
	}
}
