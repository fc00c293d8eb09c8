package sessiond

// Stats is a snapshot of the store's counters.
type Stats struct {
	// Keys counts live records; expired ones count until reclaimed.
	Keys int
	// Volatile counts the live records that have an expiry.
	Volatile int
	// Tombstones counts the deletes kept to refuse stale replicas.
	Tombstones int
	// RecordBytes is the stored size of live records and tombstones:
	// headers, keys and values.
	RecordBytes int64
	// UsedMemory is the memory taken from the system for records and the
	// index, which MaxMemory caps.
	UsedMemory int64
	// MaxMemory is the cap, 0 for none.
	MaxMemory int64
	// Policy is the eviction policy.
	Policy Policy
	// Segments counts the record segments in use.
	Segments int
	// Evictions counts records evicted to hold MaxMemory.
	Evictions int64
	// Expirations counts records reclaimed after they expired.
	Expirations int64
	// Users counts the users the user index files sessions under, and
	// UserSessions the sessions filed; expired ones count until
	// reclaimed. Both are 0 without Options.UserID.
	Users, UserSessions int
}

// Stats returns the store's counters.
func (st *Store) Stats() Stats {
	s := Stats{
		UsedMemory:  st.mem.used.Load(),
		MaxMemory:   st.opts.MaxMemory,
		Policy:      st.opts.Policy,
		Evictions:   st.evictions.Load(),
		Expirations: st.expirations.Load(),
	}
	s.Users, s.UserSessions = st.users.counts()
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		s.Keys += sh.keys
		s.Volatile += sh.vols
		s.Tombstones += sh.tombs
		s.RecordBytes += sh.bytes
		s.Segments += len(sh.segs) - len(sh.freeIDs) - min(len(sh.segs), 1)
		sh.mu.Unlock()
	}
	return s
}
