package server

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sessiond/sessiond/internal/memcache"
)

// mcCounter names a memcached statistic a connection counts.
type mcCounter int

// mcNone is no counter.
const mcNone mcCounter = -1

// The statistics, in memcached's meaning. Each connection counts its own,
// as for RESP, so that no cache line is shared by every request.
const (
	mcCmdGet mcCounter = iota
	mcCmdSet
	mcCmdTouch
	mcCmdFlush
	mcGetHits
	mcGetMisses
	mcDeleteHits
	mcDeleteMisses
	mcIncrHits
	mcIncrMisses
	mcDecrHits
	mcDecrMisses
	mcCasHits
	mcCasMisses
	mcCasBadval
	mcTouchHits
	mcTouchMisses
	mcStoreTooLarge
	mcStoreNoMemory
	mcTotalItems
	mcBytesRead    // filled in from the connection's traffic
	mcBytesWritten // likewise
	numMCCounters
)

// mcCounterNames are the counters' names in stats, in memcached's order.
var mcCounterNames = [numMCCounters]string{
	mcCmdGet: "cmd_get", mcCmdSet: "cmd_set", mcCmdFlush: "cmd_flush", mcCmdTouch: "cmd_touch",
	mcGetHits: "get_hits", mcGetMisses: "get_misses",
	mcDeleteMisses: "delete_misses", mcDeleteHits: "delete_hits",
	mcIncrMisses: "incr_misses", mcIncrHits: "incr_hits", mcDecrMisses: "decr_misses", mcDecrHits: "decr_hits",
	mcCasMisses: "cas_misses", mcCasHits: "cas_hits", mcCasBadval: "cas_badval",
	mcTouchHits: "touch_hits", mcTouchMisses: "touch_misses",
	mcStoreTooLarge: "store_too_large", mcStoreNoMemory: "store_no_memory",
	mcTotalItems: "total_items", mcBytesRead: "bytes_read", mcBytesWritten: "bytes_written",
}

type mcCounters [numMCCounters]atomic.Int64

func (a *mcCounters) add(b *mcCounters) {
	for i := range b {
		a[i].Add(b[i].Load())
	}
}

func (a *mcCounters) reset() {
	for i := range a {
		a[i].Store(0)
	}
}

// stats [items|slabs|settings|reset]
func (m *mcConn) statsCmd(cmd *memcache.Command) {
	sub := ""
	if len(cmd.Args) > 0 {
		sub = string(cmd.Args[0])
	}
	switch sub {
	case "":
		m.generalStats()
	case "items":
		m.itemStats()
	case "slabs":
		m.slabStats()
	case "settings":
		m.settingStats()
	case "reset":
		m.s.resetStats(true)
		m.w.Line(memcache.Reset)
		return
	default:
		m.w.Error()
		return
	}
	m.w.Line(memcache.End)
}

// generalStats answers stats: memcached's fields that mean something here.
func (m *mcConn) generalStats() {
	s, w := m.s, m.w
	now := time.Now()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) string { return fmt.Sprintf("%d.%06d", t.Sec, t.Usec) }
	st := s.st.Stats()
	tot := s.totals()
	t, open := &tot.mc, tot.mcOpen

	w.StatInt("pid", int64(os.Getpid()))
	w.StatInt("uptime", int64(now.Sub(s.started).Seconds()))
	w.StatInt("time", s.storeNow().Unix()) // the clock absolute exptimes are read against
	w.Stat("version", memcachedVersion)
	w.Stat("sessiond_version", s.cfg.Version)
	w.StatInt("pointer_size", strconv.IntSize)
	w.Stat("rusage_user", tv(ru.Utime))
	w.Stat("rusage_system", tv(ru.Stime))
	w.StatInt("max_connections", int64(s.cfg.MaxClients))
	w.StatInt("curr_connections", int64(open))
	w.StatInt("total_connections", s.mc.total.Load())
	w.StatInt("rejected_connections", s.stats.rejected.Load())
	for i := mcCmdGet; i < mcTotalItems; i++ {
		w.StatInt(mcCounterNames[i], t[i].Load())
	}
	w.StatInt("auth_cmds", 0)
	w.StatInt("auth_errors", 0)
	w.StatInt(mcCounterNames[mcBytesRead], t[mcBytesRead].Load())
	w.StatInt(mcCounterNames[mcBytesWritten], t[mcBytesWritten].Load())
	w.StatInt("limit_maxbytes", st.MaxMemory)
	w.StatInt("accepting_conns", 1)
	w.StatInt("threads", int64(runtime.GOMAXPROCS(0)))
	w.StatInt("bytes", st.RecordBytes)
	w.StatInt("curr_items", int64(st.Keys))
	w.StatInt(mcCounterNames[mcTotalItems], t[mcTotalItems].Load())
	w.StatInt("evictions", st.Evictions)
	w.StatInt("reclaimed", st.Expirations)
}

// itemStats answers stats items in memcached's shape, "items:<class>:<name>",
// which clients parse (connect-memcached's length reads number). The store
// has no slab classes: everything is class 1. As in memcached, an empty
// store has no lines.
func (m *mcConn) itemStats() {
	st := m.s.st.Stats()
	if st.Keys == 0 {
		return
	}
	t := &m.s.totals().mc
	for _, kv := range []struct {
		name string
		n    int64
	}{
		{"number", int64(st.Keys)},
		{"number_hot", 0},
		{"number_warm", 0},
		{"number_cold", int64(st.Keys)},
		{"age_hot", 0},
		{"age_warm", 0},
		{"age", 0},
		{"mem_requested", st.RecordBytes},
		{"evicted", st.Evictions},
		{"evicted_nonzero", 0},
		{"evicted_time", 0},
		{"outofmemory", t[mcStoreNoMemory].Load()},
		{"tailrepairs", 0},
		{"reclaimed", st.Expirations},
		{"expired_unfetched", 0},
		{"evicted_unfetched", 0},
		{"evicted_active", 0},
	} {
		m.w.StatInt("items:1:"+kv.name, kv.n)
	}
}

// slabStats answers stats slabs in memcached's shape: the store's 64 KiB
// segments as the pages of one class.
func (m *mcConn) slabStats() {
	st := m.s.st.Stats()
	active := int64(0)
	if st.Keys > 0 {
		active = 1
		t := &m.s.totals().mc
		for _, kv := range []struct {
			name string
			n    int64
		}{
			{"chunk_size", 64 << 10},
			{"chunks_per_page", 1},
			{"total_pages", int64(st.Segments)},
			{"total_chunks", int64(st.Segments)},
			{"used_chunks", int64(st.Segments)},
			{"free_chunks", 0},
			{"free_chunks_end", 0},
			{"get_hits", t[mcGetHits].Load()},
			{"cmd_set", t[mcCmdSet].Load()},
			{"delete_hits", t[mcDeleteHits].Load()},
			{"incr_hits", t[mcIncrHits].Load()},
			{"decr_hits", t[mcDecrHits].Load()},
			{"cas_hits", t[mcCasHits].Load()},
			{"cas_badval", t[mcCasBadval].Load()},
			{"touch_hits", t[mcTouchHits].Load()},
		} {
			m.w.StatInt("1:"+kv.name, kv.n)
		}
	}
	m.w.StatInt("active_slabs", active)
	m.w.StatInt("total_malloced", st.UsedMemory)
}

// settingStats answers stats settings with the settings that exist here.
func (m *mcConn) settingStats() {
	s, w := m.s, m.w
	host, port := "NULL", "0"
	if a := s.MemcacheAddrs(); len(a) > 0 {
		for _, addr := range a {
			if addr.Network() == "tcp" {
				host, port, _ = splitHostPort(addr.String())
			}
		}
	}
	socket := "NULL"
	if s.cfg.MemcacheUnix != "" {
		socket = s.cfg.MemcacheUnix
	}
	evictions := "on"
	if s.storeOpts.Policy == 0 {
		evictions = "off"
	}
	w.StatInt("maxbytes", s.storeOpts.MaxMemory)
	w.StatInt("maxconns", int64(s.cfg.MaxClients))
	w.Stat("tcpport", port)
	w.Stat("udpport", "0")
	w.Stat("inter", host)
	w.Stat("domain_socket", socket)
	w.Stat("umask", strconv.FormatUint(uint64(s.cfg.UnixPerm), 8))
	w.Stat("evictions", evictions)
	w.Stat("cas_enabled", "yes")
	w.StatInt("item_size_max", int64(s.storeOpts.MaxValueSize))
	w.Stat("flush_enabled", "yes")
	w.StatInt("idle_timeout", int64(s.cfg.Timeout/time.Second))
	w.Stat("binding_protocol", "ascii")
	w.Stat("auth_enabled_sasl", "no")
	w.Stat("auth_enabled_ascii", "no")
	w.StatInt("num_threads", int64(runtime.GOMAXPROCS(0)))
}
