package bench

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/sessiond/sessiond"
	"github.com/sessiond/sessiond/internal/prefetch"
)

// Package bench holds sessiond's benchmarks: the engine's hot paths here,
// and programs in its subdirectories that measure memory and, later,
// compare the server with redis-server and memcached. Figures go in
// docs/BENCHMARKS.md.
//
// The hot paths, as a session server drives them: 37-byte keys, 512-byte
// values. Run with -cpu 1,2 to see scaling across cores; every benchmark
// is parallel, so -cpu sets the number of goroutines.

const benchKeys = 1 << 16

func benchStore(b *testing.B) (*sessiond.Store, []string, []byte) {
	return benchStoreWith(b, nil)
}

// benchStoreWith is benchStore with the store's options.
func benchStoreWith(b *testing.B, o *sessiond.Options) (*sessiond.Store, []string, []byte) {
	st, err := sessiond.Open(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	keys := make([]string, benchKeys)
	val := make([]byte, 512)
	for i := range keys {
		keys[i] = fmt.Sprintf("sess:%032d", i) // 37 bytes
		if err := st.Set(keys[i], val, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	return st, keys, val
}

// parallel runs op from every goroutine of b.RunParallel, each walking the
// keys from its own starting point.
func parallel(b *testing.B, op func(i uint64)) {
	var seq atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(1) * 7919
		for pb.Next() {
			i++
			op(i)
		}
	})
}

// BenchmarkGet does not use parallel: each goroutine keeps its own buffer,
// as a connection does, and Lookup appends into it without allocating.
func BenchmarkGet(b *testing.B) {
	st, keys, _ := benchStore(b)
	var seq atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(1) * 7919
		buf := make([]byte, 0, 1024)
		for pb.Next() {
			i++
			if _, _, ok, _ := st.Lookup(buf[:0], keys[i%benchKeys]); !ok {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkGetCopy(b *testing.B) {
	st, keys, _ := benchStore(b)
	parallel(b, func(i uint64) {
		if _, ok, _ := st.Get(keys[i%benchKeys]); !ok {
			b.Fatal("miss")
		}
	})
}

func BenchmarkSet(b *testing.B) {
	st, keys, val := benchStore(b)
	parallel(b, func(i uint64) {
		if err := st.Set(keys[i%benchKeys], val, time.Hour); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkSetPersist is BenchmarkSet with a data directory, under each
// fsync policy: what the log adds to a write (a copy into the mapped log;
// under always, a wait for the shared flush).
func BenchmarkSetPersist(b *testing.B) {
	for _, p := range []sessiond.FsyncPolicy{sessiond.FsyncNo, sessiond.FsyncEverySec, sessiond.FsyncAlways} {
		b.Run(p.String(), func(b *testing.B) {
			st, keys, val := benchStoreWith(b, &sessiond.Options{Dir: b.TempDir(), Fsync: p})
			parallel(b, func(i uint64) {
				if err := st.Set(keys[i%benchKeys], val, time.Hour); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkSetResize writes values whose size changes each time, so every
// write appends and the old record is compacted away.
func BenchmarkSetResize(b *testing.B) {
	st, keys, val := benchStore(b)
	parallel(b, func(i uint64) {
		if err := st.Set(keys[i%benchKeys], val[:400+i%100], time.Hour); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkTouch(b *testing.B) {
	st, keys, _ := benchStore(b)
	parallel(b, func(i uint64) {
		if ok, _ := st.Touch(keys[i%benchKeys], time.Hour); !ok {
			b.Fatal("miss")
		}
	})
}

// BenchmarkUpdate reads a session and writes it back, in one step under
// its lock, as the server's read-modify-write commands do (SET ... GET,
// GETEX, memcached's append and gat): the value read, and a write of the
// same size.
func BenchmarkUpdate(b *testing.B) {
	st, keys, val := benchStore(b)
	parallel(b, func(i uint64) {
		_, err := st.Update(keys[i%benchKeys], func(e *sessiond.Entry) error {
			if !bytes.Equal(e.Value(), val) {
				return errors.New("the value changed")
			}
			e.Set(val)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkSetDelete measures a session's life: created, then destroyed.
func BenchmarkSetDelete(b *testing.B) {
	st, keys, val := benchStore(b)
	parallel(b, func(i uint64) {
		k := keys[i%benchKeys]
		st.Delete(k)
		if err := st.Set(k, val, time.Hour); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkGetBatch looks up batches of 16 random keys, as a pipelining
// client sends them, in stores of 2,048 to 262,144 sessions (about 1.2 to
// 160 MB): with prefetch=true, the store first asks for their memory, as the server
// does (internal/prefetch).
// Reported per lookup.
func BenchmarkGetBatch(b *testing.B) {
	for _, n := range []int{1 << 11, 1 << 13, 1 << 15, 1 << 18} {
		for _, pf := range []bool{false, true} {
			b.Run(fmt.Sprintf("sessions=%d/prefetch=%v", n, pf), func(b *testing.B) {
				benchGetBatch(b, n, pf)
			})
		}
	}
}

func benchGetBatch(b *testing.B, n int, pf bool) {
	st, err := sessiond.Open(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	keys := make([]string, n)
	val := make([]byte, 512)
	for i := range keys {
		keys[i] = fmt.Sprintf("sess:%032d", i)
		if err := st.Set(keys[i], val, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	var batch prefetch.Batch
	batch.N = 16
	buf := make([]byte, 0, 1024)
	x := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch.N {
		for j := range batch.N {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			batch.Keys[j] = keys[x%uint64(n)]
		}
		if pf {
			batch.Values = true
			prefetch.Keys(st, batch)
		}
		for _, k := range batch.Keys[:batch.N] {
			if _, _, ok, _ := st.Lookup(buf[:0], k); !ok {
				b.Fatal("miss")
			}
		}
	}
}

// BenchmarkRewrite rewrites random sessions of a store of 100,000 or
// 1,000,000 with values whose length varies by ±3% (497 to 527 bytes), as
// a session store's writes do: most change a session's size a little; and
// by ±50% (256 to 768 bytes), where most rewrites move their record and
// compaction does much of the work. As the server does with a pipelined
// batch, each goroutine writes 16 keys at a time, prefetched, and builds
// them in a buffer of its own (a connection's read buffer). The store is
// first filled with 512-byte values and each session rewritten five times
// on average, so that what is measured is the steady state. B/session is
// the memory in use at the end.
func BenchmarkRewrite(b *testing.B) {
	for _, spread := range []int{15, 256} {
		for _, n := range []int{100_000, 1_000_000} {
			b.Run(fmt.Sprintf("values=%d-%d/sessions=%d", 512-spread, 512+spread, n), func(b *testing.B) {
				benchRewrite(b, n, spread)
			})
		}
	}
}

func benchRewrite(b *testing.B, n, spread int) {
	st, err := sessiond.Open(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	val := make([]byte, 512+spread)
	var r rewriter
	for k := range n {
		if err := st.Set(r.key(0, uint64(k)), val[:512], time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	r.x = 1
	for range 5 * n / 16 {
		r.batch(b, st, n, val, spread)
	}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rewriter{x: seq.Add(1) * 0x9e3779b97f4a7c15}
		for {
			for range 16 {
				if !pb.Next() {
					return
				}
			}
			r.batch(b, st, n, val, spread)
		}
	})
	b.StopTimer()
	if s := st.Stats(); s.Keys == n {
		b.ReportMetric(float64(s.UsedMemory)/float64(n), "B/session")
	}
}

// rewriter writes batches of 16 random sessions for BenchmarkRewrite.
type rewriter struct {
	x    uint64 // xorshift state
	buf  [16 * 37]byte
	keys [16]string
}

// key writes session k's key, sess:<32 digits>, into slot j of the buffer.
func (r *rewriter) key(j int, k uint64) string {
	b := r.buf[j*37 : (j+1)*37]
	copy(b, "sess:")
	for i := 36; i >= 5; i-- {
		b[i] = '0' + byte(k%10)
		k /= 10
	}
	return unsafe.String(&b[0], len(b))
}

func (r *rewriter) next() uint64 {
	r.x ^= r.x << 13
	r.x ^= r.x >> 7
	r.x ^= r.x << 17
	return r.x
}

// batch rewrites 16 random sessions of n with values of 512±spread bytes.
func (r *rewriter) batch(b *testing.B, st *sessiond.Store, n int, val []byte, spread int) {
	for j := range r.keys {
		r.keys[j] = r.key(j, r.next()%uint64(n))
	}
	var pb prefetch.Batch
	for _, k := range r.keys {
		pb.Add(k)
	}
	prefetch.Keys(st, pb)
	for _, k := range r.keys {
		if err := st.Set(k, val[:512-spread+int(r.next()%uint64(2*spread+1))], time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
