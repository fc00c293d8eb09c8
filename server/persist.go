package server

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond"
)

// The commands and INFO fields of the data directory, with Redis's names
// and replies: SAVE and BGSAVE write a snapshot (there is no RDB apart from
// the log's compaction, so BGREWRITEAOF does the same), LASTSAVE says when
// the last one was completed, SHUTDOWN stops the server.

// Replies of the data directory, as Redis words them.
const (
	errLoading  = "LOADING sessiond is loading the dataset in memory"
	errMisconf  = "MISCONF Errors writing to the data directory, so writes are refused until the disk takes them again: "
	errNoDir    = "ERR no data directory: sessions are kept in memory only, and there is nothing to save"
	errBGInProg = "ERR Background save already in progress"
)

// watchLoad marks the server ready once the store has loaded its data
// directory; until then, commands that touch data get LOADING.
func (s *Server) watchLoad() {
	if s.st == nil {
		s.ready.Store(true) // a server that only fails to listen
		return
	}
	select {
	case <-s.st.Loaded():
		s.ready.Store(true)
		return
	default:
	}
	go func() {
		<-s.st.Loaded()
		s.ready.Store(true)
	}()
}

// SAVE
func cmdSave(c *respConn, args [][]byte) {
	switch err := c.s.st.Save(); {
	case err == nil:
		c.w.OK()
	case errors.Is(err, sessiond.ErrSaveInProgress):
		c.w.Error(errBGInProg)
	default:
		c.persistError(err)
	}
}

// BGSAVE [SCHEDULE] and BGREWRITEAOF: a snapshot written in the
// background.
func cmdBgsave(c *respConn, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !equalFold(args[1], "schedule")) {
		c.w.Error(errSyntax)
		return
	}
	p := c.s.st.Persistence()
	switch {
	case !p.Enabled:
		c.w.Error(errNoDir)
		return
	case p.Saving && len(args) == 2:
		c.w.Simple("Background saving scheduled")
		go c.s.saveAfter()
		return
	case p.Saving:
		c.w.Error(errBGInProg)
		return
	}
	go c.s.saveLogged()
	if equalFold(args[0], "bgrewriteaof") {
		c.w.Simple("Background append only file rewriting started")
	} else {
		c.w.Simple("Background saving started")
	}
}

// saveLogged writes a snapshot for a command that does not wait for it; the
// store logs failures.
func (s *Server) saveLogged() {
	if err := s.st.Save(); err != nil && !errors.Is(err, sessiond.ErrSaveInProgress) {
		s.log.Debug("background save", "err", err)
	}
}

// saveAfter waits for the snapshot being written, then writes another
// (BGSAVE SCHEDULE).
func (s *Server) saveAfter() {
	for i := 0; i < 3600*10 && s.st.Persistence().Saving; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	s.saveLogged()
}

// LASTSAVE
func cmdLastsave(c *respConn, args [][]byte) {
	c.w.Int(c.s.lastSave().Unix())
}

// lastSave is when the last snapshot was completed, or when the server
// started if none was, as Redis reports it.
func (s *Server) lastSave() time.Time {
	if t := s.st.Persistence().LastSave; !t.IsZero() {
		return t
	}
	return s.started
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the server stops as on
// SIGTERM; with SAVE it writes a snapshot first, and a failed one keeps it
// running (unless FORCE). The log is flushed either way: NOSAVE loses
// nothing with a data directory. On success the connection closes with no
// reply, as in Redis.
func cmdShutdown(c *respConn, args [][]byte) {
	var save, nosave, force bool
	for _, a := range args[1:] {
		switch strings.ToLower(string(a)) {
		case "save":
			save = true
		case "nosave":
			nosave = true
		case "now":
		case "force":
			force = true
		case "abort":
			c.w.Error("ERR No shutdown in progress.")
			return
		default:
			c.w.Error(errSyntax)
			return
		}
	}
	if save && nosave {
		c.w.Error(errSyntax)
		return
	}
	if c.s.cfg.Shutdown == nil {
		c.w.Error("ERR SHUTDOWN is not available: this server is embedded in a program that decides when it stops")
		return
	}
	if save {
		err := c.s.st.Save()
		if err != nil && !errors.Is(err, sessiond.ErrNoDir) && !force {
			c.s.log.Warn("SHUTDOWN SAVE: the snapshot failed; not shutting down", "err", err)
			c.w.Error("ERR Errors trying to SHUTDOWN. Check logs.")
			return
		}
	}
	c.s.log.Info("SHUTDOWN asked by a client", "id", c.id, "client", c.raddr.String())
	c.quit = true
	c.s.cfg.Shutdown()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// persistError replies to an error of the data directory.
func (c *respConn) persistError(err error) {
	switch {
	case errors.Is(err, sessiond.ErrNoDir):
		c.w.Error(errNoDir)
	case errors.Is(err, sessiond.ErrLoading):
		c.w.Error(errLoading)
	default:
		c.w.Error("ERR " + err.Error())
	}
}

// persistenceInfo is INFO's persistence section, with Redis's field names
// where Redis has the figure, and sessiond_ ones for the rest.
func (s *Server) persistenceInfo() [][2]string {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	p := s.st.Persistence()
	b01 := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	status := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "err"
	}
	lastSaveSec := "-1"
	if p.Saves > 0 || !p.LastSaveOK {
		lastSaveSec = itoa(int64(p.LastSaveTime.Seconds()))
	}
	f := [][2]string{
		{"loading", b01(p.Loading)},
		{"async_loading", "0"},
		{"rdb_changes_since_last_save", itoa(p.ChangesSinceSave)},
		{"rdb_bgsave_in_progress", b01(p.Saving)},
		{"rdb_last_save_time", itoa(s.lastSave().Unix())},
		{"rdb_last_bgsave_status", status(p.LastSaveOK)},
		{"rdb_last_bgsave_time_sec", lastSaveSec},
		{"rdb_saves", itoa(p.Saves)},
		{"rdb_last_load_keys_loaded", itoa(p.LoadedKeys)},
		{"aof_enabled", b01(p.Enabled)},
		{"aof_rewrite_in_progress", b01(p.Saving)},
		{"aof_rewrite_scheduled", "0"},
		{"aof_last_rewrite_time_sec", lastSaveSec},
		{"aof_last_bgrewrite_status", status(p.LastSaveOK)},
		{"aof_rewrites", itoa(p.Saves)},
		{"aof_last_write_status", status(p.WriteOK)},
	}
	if !p.Enabled {
		return f
	}
	if p.Loading {
		f = append(f, [2]string{"loading_start_time", itoa(time.Now().Add(-p.LoadTime).Unix())},
			[2]string{"loading_loaded_entries", itoa(p.Loaded)})
	}
	var avg int64
	if p.Fsyncs > 0 {
		avg = p.FsyncTime.Microseconds() / p.Fsyncs
	}
	return append(f,
		[2]string{"aof_current_size", itoa(p.LogSize)},
		[2]string{"aof_base_size", itoa(p.SnapshotSize)},
		[2]string{"sessiond_dir", p.Dir},
		[2]string{"sessiond_appendfsync", p.Fsync.String()},
		[2]string{"sessiond_load_time_ms", itoa(p.LoadTime.Milliseconds())},
		[2]string{"sessiond_loaded_entries", itoa(p.Loaded)},
		[2]string{"sessiond_fsyncs", itoa(p.Fsyncs)},
		[2]string{"sessiond_fsync_avg_usec", itoa(avg)},
		[2]string{"sessiond_fsync_max_usec", itoa(p.FsyncMax.Microseconds())},
		[2]string{"sessiond_fsync_usec_histogram", fsyncHistogram(p)},
	)
}

// fsyncHistogram writes the fsync latencies as bound=count pairs, in
// microseconds ("+inf" for the last), as Redis's latency histograms do.
func fsyncHistogram(p sessiond.Persistence) string {
	var b strings.Builder
	for i, n := range p.FsyncBuckets {
		if i > 0 {
			b.WriteByte(',')
		}
		if i < len(sessiond.FsyncBounds) {
			b.WriteString(strconv.FormatInt(sessiond.FsyncBounds[i].Microseconds(), 10))
		} else {
			b.WriteString("+inf")
		}
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(n, 10))
	}
	return b.String()
}
