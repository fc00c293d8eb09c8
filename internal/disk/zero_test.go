package disk_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/sessiond/sessiond/internal/disk"
)

// TestLogZeroAhead: with Zero, ZeroAhead writes flushed zeros two Chunks
// past the frames, asked for by NeedsZero once less than half a Chunk is
// left; appends below them, past them (ZeroAhead late) and while it runs
// all land where they should, and Close cuts the zeros off.
func TestLogZeroAhead(t *testing.T) {
	const chunk = 64 << 10
	var syncs int
	var mu sync.Mutex
	o := disk.LogOptions{Chunk: chunk, Zero: true, Sync: func(f *os.File) error {
		mu.Lock()
		syncs++
		mu.Unlock()
		return f.Sync()
	}}
	path := filepath.Join(t.TempDir(), "log.000001")
	l, err := disk.CreateLog(path, 1, o)
	if err != nil {
		t.Fatal(err)
	}
	if !l.NeedsZero() {
		t.Fatal("a new log with Zero: NeedsZero() = false, want true")
	}
	if err := l.ZeroAhead(); err != nil {
		t.Fatal(err)
	}
	if l.NeedsZero() {
		t.Fatal("after ZeroAhead: NeedsZero() = true")
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != disk.HeaderSize+2*chunk {
		t.Fatalf("after ZeroAhead the file is %v bytes (%v), want %d", fi.Size(), err, disk.HeaderSize+2*chunk)
	}
	mu.Lock()
	if syncs != 2 { // CreateLog's and ZeroAhead's
		t.Fatalf("%d flushes, want 2: ZeroAhead flushes its zeros", syncs)
	}
	mu.Unlock()

	// Frames below the zeros, then past them (ZeroAhead not called),
	// then with ZeroAhead running beside the appends.
	var bodies [][]byte
	for i := range 200 {
		bodies = append(bodies, bodyOf(i, 100+i*37%3000))
	}
	appendFrames(t, l, bodies[:20])
	if l.NeedsZero() {
		t.Fatalf("End %d, zeros to %d: NeedsZero() = true, want false", l.End(), disk.HeaderSize+2*chunk)
	}
	appendFrames(t, l, bodies[20:100])
	if !l.NeedsZero() {
		t.Fatalf("End %d, past the zeros: NeedsZero() = false", l.End())
	}
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if l.NeedsZero() {
				if err := l.ZeroAhead(); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	appendFrames(t, l, bodies[100:])
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("ZeroAhead beside appends: %v", err)
	}
	checkOpenLog(t, path, bodies)
	closeAndCheck(t, l, path, bodies)
	if err := l.ZeroAhead(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("ZeroAhead after Close: %v, want os.ErrClosed", err)
	}
}

// TestLogZeroAheadFails: zeros the disk refuses leave the log as it was,
// appends going on as without Zero; a write that fails below the zeros
// cuts the file back to its frames, and ZeroAhead starts again from there.
func TestLogZeroAheadFails(t *testing.T) {
	for _, short := range []bool{false, true} {
		t.Run(fmt.Sprintf("short=%v", short), func(t *testing.T) {
			write := hook{short: short}
			path := filepath.Join(t.TempDir(), "log.000001")
			l, err := disk.CreateLog(path, 1, disk.LogOptions{Chunk: 8 << 10, Zero: true, WriteAt: write.writeAt})
			if err != nil {
				t.Fatal(err)
			}
			bodies := bodiesOf(100, 10, 5000, 9000, 20000, 3)
			appendFrames(t, l, bodies[:1])
			write.err = syscall.ENOSPC
			if err := l.ZeroAhead(); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("ZeroAhead on a full disk: %v, want ENOSPC", err)
			}
			if !l.NeedsZero() {
				t.Fatal("after a failed ZeroAhead: NeedsZero() = false")
			}
			write.err = nil
			appendFrames(t, l, bodies[1:2])
			if err := l.ZeroAhead(); err != nil {
				t.Fatal(err)
			}
			write.err = syscall.ENOSPC
			buf, room := disk.AppendFrame(nil, 50)
			disk.SealFrame(buf, room)
			if err := l.Append(buf); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Append on a full disk: %v, want ENOSPC", err)
			}
			if short && !l.NeedsZero() {
				t.Fatal("a half-written append below the zeros cut them off: NeedsZero() = false")
			}
			write.err = nil
			if err := l.ZeroAhead(); err != nil {
				t.Fatal(err)
			}
			appendFrames(t, l, bodies[2:])
			closeAndCheck(t, l, path, bodies)
		})
	}
}
