// Package disk holds the files of a store's data directory: the
// append-only log, the snapshots, and the lock that keeps a second process
// out. It knows frames, checksums and file names; what a frame's body
// means is the store's business.
//
// # Files
//
// A data directory holds:
//
//	LOCK               locked (flock) by the process that serves it; holds its pid
//	snapshot.<gen>     the whole store as it was around the time log <gen> began
//	log.<gen>          every change made after log <gen-1> ended, in order
//	*.tmp              a snapshot being written; removed at start
//
// Loading takes the newest snapshot, then replays the logs of its
// generation and later, in order. A store with no snapshot yet replays
// every log from generation 1.
//
// Every file starts with a 32-byte header: the magic "sessiond", the file's
// kind, the format version and the generation, under a checksum. A log is
// then a run of frames: a 4-byte length, a 4-byte CRC-32C of the body, and
// the body. Frames are written with one system call for a batch of them;
// a log ends at its last frame, or, after a crash in the middle of a
// write, in part of one (or in zeros, written by a release that
// preallocated its logs). A snapshot is a run of blocks, each one
// checksummed, and ends with a block that counts the records.
//
// # Damage
//
// A frame that fails its checksum, with no valid frame after it, is a torn
// tail: a crash in the middle of an append, which was never acknowledged.
// ScanLog reports it so that the caller can cut it off. A bad frame with a
// good one after it is damage, reported as a *DamageError with the file's
// offset; so is any flaw in a snapshot.
package disk
