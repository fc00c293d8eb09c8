// Command memory loads sessions into an embedded sessiond store and prints
// what they cost in process RSS, the figure docs/BENCHMARKS.md reports:
//
//	go run ./bench/memory -n 1000000
//
// Each session has a 37-byte key ("sess:" and 32 hex digits, as
// express-session makes them) and a 512-byte value, with a one-day TTL.
// RSS is read from /proc/self/status before and after loading, after a
// garbage collection, so the figure is the memory the kernel really gave the
// process for the sessions: records, index, fragmentation and runtime.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/sessiond/sessiond"
)

func main() {
	n := flag.Int("n", 1_000_000, "number of sessions")
	valueSize := flag.Int("value", 512, "value size in bytes")
	flag.Parse()

	st, err := sessiond.Open(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	runtime.GC()
	base := rss()

	r := rand.New(rand.NewPCG(1, 2))
	value := bytes.Repeat([]byte("x"), *valueSize)
	key := []byte("sess:")
	raw := make([]byte, 16)
	start := time.Now()
	for range *n {
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		key = hex.AppendEncode(key[:5], raw)
		// The store copies the key; a string view of the buffer saves
		// the loader's garbage from the measurement.
		if err := st.Set(unsafe.String(unsafe.SliceData(key), len(key)), value, 24*time.Hour); err != nil {
			log.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	debug.FreeOSMemory()
	used := rss() - base
	s := st.Stats()
	fmt.Printf("sessions          %d (key %d bytes, value %d bytes)\n", s.Keys, len(key), *valueSize)
	fmt.Printf("load time         %v (%.0f ns/set)\n", elapsed.Round(time.Millisecond), float64(elapsed.Nanoseconds())/float64(*n))
	fmt.Printf("rss before        %d bytes\n", base)
	fmt.Printf("rss growth        %d bytes\n", used)
	fmt.Printf("rss total         %d bytes\n", base+used)
	fmt.Printf("bytes/session     %.1f (rss growth) %.1f (total rss)\n", float64(used)/float64(*n), float64(base+used)/float64(*n))
	fmt.Printf("store accounting  %.1f bytes/session used memory, %.1f record bytes\n", float64(s.UsedMemory)/float64(*n), float64(s.RecordBytes)/float64(*n))
}

// rss returns the process's resident set size in bytes.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				log.Fatal(err)
			}
			return kb << 10
		}
	}
	log.Fatal("no VmRSS in /proc/self/status")
	return 0
}
