package disk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// FormatVersion is the version of the files this package writes. A file of
// a later version is refused with a message that says so; readers of later
// releases read this one. Version 2 may compress snapshot blocks (the top
// bit of a block's length); this package reads versions 1 and 2.
const FormatVersion = 2

// oldestVersion is the oldest version this package reads.
const oldestVersion = 1

// HeaderSize is the size of every file's header.
const HeaderSize = 32

// Kind tells a log from a snapshot in a file's header.
type Kind [4]byte

// The kinds of file.
var (
	KindLog      = Kind{'l', 'o', 'g', 0}
	KindSnapshot = Kind{'s', 'n', 'a', 'p'}
)

const magic = "sessiond"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C of b, the checksum of every frame and block.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// putHeader writes a header of kind k and generation gen into dst, which
// has HeaderSize bytes:
//
//	0   8  "sessiond"
//	8   4  kind
//	12  4  format version
//	16  8  generation
//	24  4  zero
//	28  4  CRC-32C of bytes 0-27
func putHeader(dst []byte, k Kind, gen uint64) {
	copy(dst, magic)
	copy(dst[8:], k[:])
	binary.LittleEndian.PutUint32(dst[12:], FormatVersion)
	binary.LittleEndian.PutUint64(dst[16:], gen)
	binary.LittleEndian.PutUint32(dst[24:], 0)
	binary.LittleEndian.PutUint32(dst[28:], Checksum(dst[:28]))
}

// checkHeader checks that b starts with a header of kind k and returns its
// generation; file names the file in errors.
func checkHeader(file string, b []byte, k Kind) (gen uint64, err error) {
	if len(b) < HeaderSize {
		return 0, &DamageError{File: file, Offset: 0, Reason: fmt.Sprintf("file of %d bytes is shorter than its header", len(b))}
	}
	if string(b[:8]) != magic || Kind(b[8:12]) != k {
		return 0, &DamageError{File: file, Offset: 0, Reason: "not a sessiond " + kindName(k)}
	}
	if binary.LittleEndian.Uint32(b[28:]) != Checksum(b[:28]) {
		return 0, &DamageError{File: file, Offset: 0, Reason: "header checksum mismatch"}
	}
	if v := binary.LittleEndian.Uint32(b[12:]); v < oldestVersion || v > FormatVersion {
		return 0, fmt.Errorf("disk: %s: format version %d; this sessiond reads versions %d to %d (a newer release wrote it)", file, v, oldestVersion, FormatVersion)
	}
	return binary.LittleEndian.Uint64(b[16:]), nil
}

func kindName(k Kind) string {
	if k == KindLog {
		return "log"
	}
	return "snapshot"
}

// DamageError reports a file that is damaged at Offset: the start fails,
// and nothing in the directory is changed.
type DamageError struct {
	File   string
	Offset int64
	Reason string
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("disk: %s is damaged at offset %d: %s", e.File, e.Offset, e.Reason)
}
