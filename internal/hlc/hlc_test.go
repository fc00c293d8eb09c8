package hlc

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeWall is a wall clock the test sets by hand. It is atomic because the
// concurrent tests read it from many goroutines.
type fakeWall struct{ ms atomic.Int64 }

func (w *fakeWall) now() int64 { return w.ms.Load() }

func TestMakeSplit(t *testing.T) {
	tests := []struct {
		name    string
		ms      int64
		logical uint16
		want    uint64
	}{
		{"zero", 0, 0, 0},
		{"logical only", 0, 7, 7},
		{"one ms", 1, 0, 1 << 16},
		{"both", 1_700_000_000_000, 42, 1_700_000_000_000<<16 | 42},
		{"max logical", 5, math.MaxUint16, 5<<16 | 0xFFFF},
		{"max physical", maxPhysical, math.MaxUint16, math.MaxUint64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := Make(tc.ms, tc.logical)
			if ts != tc.want {
				t.Errorf("Make(%d, %d) = %#x, want %#x", tc.ms, tc.logical, ts, tc.want)
			}
			if got := Physical(ts); got != tc.ms {
				t.Errorf("Physical(%#x) = %d, want %d", ts, got, tc.ms)
			}
			if got := Logical(ts); got != tc.logical {
				t.Errorf("Logical(%#x) = %d, want %d", ts, got, tc.logical)
			}
		})
	}
}

// TestClock runs scripted sequences against a clock whose wall time the
// script controls. Each step sets the wall clock (if wall >= 0), optionally
// feeds a remote stamp to Update, then calls Now and checks the result.
func TestClock(t *testing.T) {
	type step struct {
		wall   int64  // -1 leaves the wall clock alone
		remote uint64 // 0 skips Update
		want   uint64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"follows the wall clock", []step{
			{wall: 1000, want: Make(1000, 0)},
			{wall: 1001, want: Make(1001, 0)},
			{wall: 1500, want: Make(1500, 0)},
		}},
		{"same millisecond counts up", []step{
			{wall: 1000, want: Make(1000, 0)},
			{wall: -1, want: Make(1000, 1)},
			{wall: -1, want: Make(1000, 2)},
			{wall: 1001, want: Make(1001, 0)},
		}},
		{"wall clock steps back", []step{
			{wall: 5000, want: Make(5000, 0)},
			{wall: 4000, want: Make(5000, 1)},
			{wall: 1, want: Make(5000, 2)},
			{wall: 4999, want: Make(5000, 3)},
			{wall: 5000, want: Make(5000, 4)},
			{wall: 5001, want: Make(5001, 0)}, // caught up: back to real time
		}},
		{"remote seconds ahead", []step{
			{wall: 1000, want: Make(1000, 0)},
			{wall: -1, remote: Make(6000, 3), want: Make(6000, 4)},
			{wall: 1001, want: Make(6000, 5)},
			{wall: 6000, want: Make(6000, 6)},
			{wall: 7000, want: Make(7000, 0)},
		}},
		{"remote behind changes nothing", []step{
			{wall: 9000, want: Make(9000, 0)},
			{wall: -1, remote: Make(100, 9), want: Make(9000, 1)},
		}},
		{"remote equal to last", []step{
			{wall: 9000, want: Make(9000, 0)},
			{wall: -1, remote: Make(9000, 0), want: Make(9000, 1)},
		}},
		{"remote with the wall ahead of it", []step{
			{wall: 2000, remote: Make(1500, 70), want: Make(2000, 0)},
		}},
		{"logical overflow carries into physical", []step{
			{wall: 1000, remote: Make(1000, math.MaxUint16-1), want: Make(1000, math.MaxUint16)},
			{wall: -1, want: Make(1001, 0)},
			{wall: -1, want: Make(1001, 1)},
			{wall: 1001, want: Make(1001, 2)},
			{wall: 1002, want: Make(1002, 0)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w fakeWall
			c := New(w.now)
			for i, s := range tc.steps {
				if s.wall >= 0 {
					w.ms.Store(s.wall)
				}
				if s.remote != 0 {
					c.Update(s.remote)
				}
				got := c.Now()
				if got != s.want {
					t.Fatalf("step %d: Now() = (%d, %d), want (%d, %d)", i,
						Physical(got), Logical(got), Physical(s.want), Logical(s.want))
				}
				if last := c.Last(); last != got {
					t.Fatalf("step %d: Last() = %#x, want %#x", i, last, got)
				}
			}
		})
	}
}

// TestNowNegativeWall checks a wall clock before 1970 is read as 0 rather
// than wrapped into a stamp thousands of years ahead. The first stamp is
// then 1, not 0: Now never returns 0, so 0 can mean "no stamp".
func TestNowNegativeWall(t *testing.T) {
	c := New(func() int64 { return -5 })
	for i, want := range []uint64{Make(0, 1), Make(0, 2)} {
		if got := c.Now(); got != want {
			t.Errorf("call %d: Now() = %#x, want %#x", i, got, want)
		}
	}
}

func TestNowLongFrozenWall(t *testing.T) {
	// With the wall clock stuck, 200000 stamps run through the 16-bit
	// counter three times; each wrap must carry, never repeat.
	c := New(func() int64 { return 1000 })
	prev := c.Now()
	for i := range 200_000 {
		ts := c.Now()
		if ts != prev+1 {
			t.Fatalf("call %d: Now() = %#x after %#x, want %#x", i, ts, prev, prev+1)
		}
		prev = ts
	}
	if got, want := Physical(prev), int64(1000+200_000/65536); got != want {
		t.Errorf("physical after 200000 calls = %d, want %d", got, want)
	}
}

func TestNowSaturates(t *testing.T) {
	c := New(func() int64 { return 1 })
	c.Update(math.MaxUint64)
	for range 3 {
		if got := c.Now(); got != math.MaxUint64 {
			t.Fatalf("Now() = %#x, want MaxUint64", got)
		}
	}
}

func TestZeroValueUsesSystemClock(t *testing.T) {
	var c Clock
	before := time.Now().UnixMilli()
	ts := c.Now()
	after := time.Now().UnixMilli()
	if p := Physical(ts); p < before || p > after {
		t.Errorf("Physical(Now()) = %d, want within [%d, %d]", p, before, after)
	}
	if c.Last() != ts {
		t.Errorf("Last() = %#x, want %#x", c.Last(), ts)
	}
}

// TestNowConcurrent checks, from many goroutines at once, that each
// goroutine sees strictly increasing stamps and that no stamp is handed
// out twice. The frozen variant forces every call through the logical
// counter and its carry, where CAS races are most likely.
func TestNowConcurrent(t *testing.T) {
	const goroutines, perG = 16, 20_000
	tests := []struct {
		name string
		now  func() int64
	}{
		{"system clock", nil},
		{"frozen clock", func() int64 { return 1_700_000_000_000 }},
		{"clock jumping back and forth", func() func() int64 {
			var n atomic.Int64
			return func() int64 { return 1_700_000_000_000 + n.Add(1)%7*1000 }
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.now)
			stamps := make([][]uint64, goroutines)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					mine := make([]uint64, perG)
					for i := range mine {
						mine[i] = c.Now()
					}
					stamps[g] = mine
				})
			}
			wg.Wait()

			var all []uint64
			for g, mine := range stamps {
				for i := 1; i < len(mine); i++ {
					if mine[i] <= mine[i-1] {
						t.Fatalf("goroutine %d: stamp %d = %#x not after %#x", g, i, mine[i], mine[i-1])
					}
				}
				all = append(all, mine...)
			}
			slices.Sort(all)
			for i := 1; i < len(all); i++ {
				if all[i] == all[i-1] {
					t.Fatalf("stamp %#x issued twice", all[i])
				}
			}
			if last := c.Last(); last != all[len(all)-1] {
				t.Errorf("Last() = %#x, want the largest stamp %#x", last, all[len(all)-1])
			}
		})
	}
}

// TestUpdateConcurrent races Update against Now: after a goroutine's
// Update returns, its next Now must exceed the remote stamp, whatever the
// other goroutines did in between.
func TestUpdateConcurrent(t *testing.T) {
	const goroutines, perG = 8, 5_000
	var w fakeWall
	w.ms.Store(1_000_000)
	c := New(w.now)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				// Remote stamps up to a few seconds ahead, differing per
				// goroutine so the CAS loops contend.
				remote := Make(w.now()+int64(g*100+i%3000), uint16(i))
				c.Update(remote)
				if ts := c.Now(); ts <= remote {
					t.Errorf("goroutine %d: Now() = %#x after Update(%#x)", g, ts, remote)
					return
				}
				if g == 0 && i%100 == 0 {
					w.ms.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

func TestNowDoesNotAllocate(t *testing.T) {
	var w fakeWall
	clocks := map[string]*Clock{"system": New(nil), "fake": New(w.now)}
	for name, c := range clocks {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				c.Update(c.Now())
				c.Now()
			})
			if allocs != 0 {
				t.Errorf("Now/Update allocated %v times per run, want 0", allocs)
			}
		})
	}
}

func BenchmarkNow(b *testing.B) {
	c := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		c.Now()
	}
}

// BenchmarkNowParallel measures Now under CAS contention from all Ps.
func BenchmarkNowParallel(b *testing.B) {
	c := New(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Now()
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	c := New(nil)
	remote := c.Now() + 1<<16
	b.ReportAllocs()
	for b.Loop() {
		c.Update(remote)
	}
}
