package cluster

import (
	"errors"

	"github.com/sessiond/sessiond"
)

// applier applies a peer's records to the store a batch at a time (one
// reading of the clock per batch), and sorts out what the store refused.
// Records point into the message they were decoded from: a batch is
// applied before the next message is read.
type applier struct {
	n       *Node
	recs    []sessiond.Record
	seqs    []uint64 // each record's log entry number (stream only)
	refused []uint64 // entries of the last flush the store did not take
	err     error    // the first error that ends the stream
}

// add queues a record, the log entry seq (0 outside a stream).
func (a *applier) add(rec *sessiond.Record, seq uint64) {
	a.recs = append(a.recs, *rec)
	a.seqs = append(a.seqs, seq)
}

// flush applies the queued records, appends the entries the store refused
// to a.refused, and returns an error that must end the stream, if any.
func (a *applier) flush() error {
	if len(a.recs) > 0 {
		a.n.st.Replica().ApplyBatch(a.recs, a.result)
	}
	clear(a.recs) // keep no reference to the message
	a.recs, a.seqs = a.recs[:0], a.seqs[:0]
	return a.err
}

// result takes the store's answer for record i. A record the store refuses
// (too large for our max value size, or no memory left) is logged and
// reported as not taken, not fatal to the stream: the sender learns that
// this node does not count for it.
func (a *applier) result(i int, ok bool, err error) {
	switch {
	case err == nil:
		if ok {
			a.n.stats.applied.Add(1)
		}
	case errors.Is(err, sessiond.ErrNotPersisted):
		// The data directory cannot take writes (the store logs that,
		// once): the record is in memory, not on disk, so this node does
		// not count for it. Not fatal: the disk may take writes again.
		if a.seqs[i] != 0 {
			a.refused = append(a.refused, a.seqs[i])
		}
	case errors.Is(err, sessiond.ErrValueTooLarge), errors.Is(err, sessiond.ErrKeyTooLarge), errors.Is(err, sessiond.ErrOutOfMemory):
		a.n.log.Error("cannot apply a replicated record", "key", truncate(a.recs[i].Key), "err", err)
		if a.seqs[i] != 0 {
			a.refused = append(a.refused, a.seqs[i])
		}
	default: // the store closed, or a bug: the stream ends
		if a.err == nil {
			a.err = err
		}
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
