package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond"
)

var wireRecords = []sessiond.Record{
	{Key: "sess:abc", Value: []byte(`{"user":"alice"}`), Expires: 1795392422784, Version: sessiond.Version{Time: 1 << 40, Node: 3}},
	{Key: "", Value: []byte{}, Version: sessiond.Version{Time: 1, Node: 1}},
	{Key: "k", Deleted: true, Expires: 1795392422784, Version: sessiond.Version{Time: 5, Node: 1 << 31}},
	{Key: "mc", Value: []byte("v\r\n"), Flags: 0xffffffff, Expires: -1, Version: sessiond.Version{Time: 1<<64 - 1, Node: 1<<32 - 1}},
}

func TestRecordRoundTrip(t *testing.T) {
	var b []byte
	for i := range wireRecords {
		b = appendRecord(b, &wireRecords[i])
	}
	d := decoder{b: b}
	for _, want := range wireRecords {
		var got sessiond.Record
		d.record(&got, 1<<20)
		if d.err != nil {
			t.Fatalf("decoding %+v: %v", want, d.err)
		}
		if got.Key != want.Key || !bytes.Equal(got.Value, want.Value) || got.Expires != want.Expires ||
			got.Flags != want.Flags || got.Version != want.Version || got.Deleted != want.Deleted {
			t.Errorf("decoded %+v, want %+v", got, want)
		}
	}
	if len(d.b) != 0 {
		t.Errorf("%d bytes left over", len(d.b))
	}
}

func TestRecordLimits(t *testing.T) {
	big := sessiond.Record{Key: "k", Value: make([]byte, 100), Version: sessiond.Version{Time: 1, Node: 1}}
	b := appendRecord(nil, &big)
	var rec sessiond.Record
	d := decoder{b: b}
	if d.record(&rec, 99); !errors.Is(d.err, errMalformed) {
		t.Errorf("a 100-byte value with a limit of 99: %v, want errMalformed", d.err)
	}
	for n := range len(b) {
		d := decoder{b: b[:n]}
		if d.record(&rec, 1<<20); !errors.Is(d.err, errMalformed) {
			t.Errorf("record cut to %d of %d bytes decoded: %v", n, len(b), d.err)
		}
	}
	zero := sessiond.Record{Key: "k"}
	d = decoder{b: appendRecord(nil, &zero)}
	if d.record(&rec, 1<<20); !errors.Is(d.err, errMalformed) {
		t.Errorf("a record without a version decoded: %v", d.err)
	}
}

// FuzzRecord: any bytes decode to records or errMalformed, never a panic,
// and the records that decode encode to bytes that decode to them again.
func FuzzRecord(f *testing.F) {
	for i := range wireRecords {
		f.Add(appendRecord(nil, &wireRecords[i]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := decodeAll(data)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v is not errMalformed", err)
			}
			return
		}
		var out []byte
		for i := range recs {
			out = appendRecord(out, &recs[i])
		}
		again, err := decodeAll(out)
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-encoded records: %d of %d, %v", len(again), len(recs), err)
		}
		for i := range recs {
			a, b := recs[i], again[i]
			if a.Key != b.Key || !bytes.Equal(a.Value, b.Value) || a.Expires != b.Expires || a.Flags != b.Flags || a.Version != b.Version || a.Deleted != b.Deleted {
				t.Fatalf("record %d: %+v re-encoded as %+v", i, a, b)
			}
		}
	})
}

func decodeAll(b []byte) ([]sessiond.Record, error) {
	d := decoder{b: b}
	var recs []sessiond.Record
	for len(d.b) > 0 {
		var rec sessiond.Record
		if d.record(&rec, 1<<16); d.err != nil {
			return nil, d.err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func TestVersionMerge(t *testing.T) {
	v := func(time uint64, node uint32) sessiond.Version { return sessiond.Version{Time: time, Node: node} }
	mine := []keyVersion{{10, v(5, 1)}, {20, v(5, 1)}, {30, v(5, 1)}, {35, v(7, 1)}}
	var body []byte
	for _, kv := range []keyVersion{{5, v(1, 0)}, {20, v(9, 2)}, {30, v(5, 1)}, {35, v(6, 3)}, {40, v(1, 0)}} {
		body = appendKeyVersion(body, kv)
	}
	m := versionMerge{mine: mine}
	// In two messages, cut between entries.
	if err := m.add(&decoder{b: body[:2*17]}); err != nil {
		t.Fatal(err)
	}
	if err := m.add(&decoder{b: body[2*17:]}); err != nil {
		t.Fatal(err)
	}
	if err := m.finish(4); err == nil {
		t.Error("a count that does not match was accepted")
	}
	if err := m.finish(5); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{10, 35}; !slices.Equal(m.send, want) {
		t.Errorf("send = %v, want %v (mine alone, mine newer)", m.send, want)
	}
	if want := []uint64{5, 20, 40}; !slices.Equal(m.want, want) {
		t.Errorf("want = %v, want %v (theirs alone, theirs newer)", m.want, want)
	}
	bad := versionMerge{}
	out := appendKeyVersion(appendKeyVersion(nil, keyVersion{9, v(1, 0)}), keyVersion{8, v(1, 0)})
	if err := bad.add(&decoder{b: out}); !errors.Is(err, errMalformed) {
		t.Errorf("a list out of order: %v", err)
	}
}

// FuzzVersionList feeds a msgVersions body to the merge of a repair round
// against a fixed list of this node's.
func FuzzVersionList(f *testing.F) {
	mine := []keyVersion{{h: 10, v: sessiond.Version{Time: 5, Node: 1}}, {h: 20, v: sessiond.Version{Time: 5, Node: 1}}, {h: 30, v: sessiond.Version{Time: 5, Node: 1}}}
	var seed []byte
	for _, kv := range []keyVersion{{5, sessiond.Version{Time: 1}}, {20, sessiond.Version{Time: 9, Node: 2}}, {30, sessiond.Version{Time: 5, Node: 1}}, {40, sessiond.Version{Time: 1}}} {
		seed = appendKeyVersion(seed, kv)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		m := versionMerge{mine: mine}
		d := decoder{b: data}
		if err := m.add(&d); err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v is not errMalformed", err)
			}
			return
		}
		if err := m.finish(m.count); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(m.send) || !slices.IsSorted(m.want) {
			t.Fatalf("send %v or want %v out of order", m.send, m.want)
		}
		// Each of mine is sent, asked for or equal; each of theirs not
		// among mine is asked for.
		if len(m.send) > len(mine) || uint64(len(m.want)) > m.count {
			t.Fatalf("send %v, want %v from %d entries", m.send, m.want, m.count)
		}
	})
}

// FuzzHashList feeds a msgWant body to the parser of hash lists.
func FuzzHashList(f *testing.F) {
	f.Add(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 1), 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		hashes, err := decodeHashes([]uint64{0}, data)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v is not errMalformed", err)
			}
			return
		}
		if len(hashes) != 1+len(data)/8 || !slices.IsSorted(hashes) {
			t.Fatalf("%d bytes parsed as %v", len(data), hashes)
		}
	})
}

// wireMessages holds a message of each kind as its encoder writes it, the
// bytes it must be, and what decodes it.
var wireMessages = []struct {
	name string
	msg  []byte
	// golden is msg in hex, as nodes of this data protocol version
	// write it: a change here is a change of the protocol (version.go).
	golden string
	// again decodes a message as its reader does and encodes what it
	// read; nil for a kind with no body.
	again func(msg []byte) ([]byte, error)
	// shorter are the lengths of the message's prefixes that are
	// messages too (an ack without refused entries).
	shorter []int
	// anyError: its decoder's errors do not wrap errMalformed (the
	// metadata's, which memberlist hands over).
	anyError bool
}{
	{
		name:   "hello",
		msg:    (&hello{Cluster: "c", Node: "n1", ID: 7, Incarnation: 9, Proto: protoRange{1, 1}}).append(nil),
		golden: "01" + "63" + "02" + "6e31" + "00000007" + "0000000000000009" + "0001" + "0001",
		again: func(msg []byte) ([]byte, error) {
			var h hello
			err := h.decode(msg)
			return h.append(nil), err
		},
		shorter: []int{17}, // the release before protocol versions
	},
	{
		name:   "gossip metadata",
		msg:    meta{DataPort: 8080, ID: 7, MaxMsg: 4 << 20, Proto: protoRange{1, 1}, HTTPPort: 9090}.encode(),
		golden: "04" + "1f90" + "00000007" + "00400000" + "0001" + "0001" + "2382",
		again: func(msg []byte) ([]byte, error) {
			m, err := decodeMeta(msg)
			return m.encode(), err
		},
		anyError: true,
	},
	{name: "msgStream", msg: []byte{msgStream}, golden: "01"},
	{
		name: "msgResume", msg: appendResume(nil, 42), golden: "02" + "000000000000002a",
		again: func(msg []byte) ([]byte, error) {
			seq, err := decodeResume(msg)
			return appendResume(nil, seq), err
		},
	},
	{
		name: "msgResume at the end", msg: appendResume(nil, resumeAtEnd), golden: "02" + "ffffffffffffffff",
		again: func(msg []byte) ([]byte, error) {
			seq, err := decodeResume(msg)
			return appendResume(nil, seq), err
		},
	},
	{
		name: "msgLog with a record and a clear",
		msg: appendEntryClear(appendEntryRecord(appendLogHeader(nil, 7, 2),
			&sessiond.Record{Key: "k", Value: []byte("v"), Version: sessiond.Version{Time: 5, Node: 3}}),
			sessiond.Version{Time: 9, Node: 1}),
		golden: "03" + "0000000000000007" + "00000002" +
			"01" + "00" + "01" + "6b" + "01" + "76" + "0000000000000005" + "03" +
			"02" + "0000000000000009" + "01",
		again: reencodeLog,
	},
	{
		name: "msgAck with refused entries", msg: appendAck(nil, 9, []uint64{4, 6}),
		golden: "04" + "0000000000000009" + "0000000000000004" + "0000000000000006",
		again: func(msg []byte) ([]byte, error) {
			last, refused, err := decodeAck(msg)
			return appendAck(nil, last, refused), err
		},
		shorter: []int{9, 17},
	},
	{name: "msgSyncRequest", msg: []byte{msgSyncRequest}, golden: "05"},
	{
		name: "msgSyncStart", msg: appendSyncStart(nil, sessiond.Version{Time: 1 << 40, Node: 300}, 3, 4096),
		golden: "06" + "0000010000000000" + "ac02" + "0000000000000003" + "0000000000001000",
		again: func(msg []byte) ([]byte, error) {
			floor, records, bytes, err := decodeSyncStart(msg)
			return appendSyncStart(nil, floor, records, bytes), err
		},
	},
	{
		name: "msgSyncChunk with a tombstone and a session",
		msg: appendRecord(appendRecord([]byte{msgSyncChunk},
			&sessiond.Record{Key: "k", Deleted: true, Expires: 1000, Flags: 7, Version: sessiond.Version{Time: 1 << 40, Node: 300}}),
			&sessiond.Record{Key: "a", Value: []byte("xy"), Version: sessiond.Version{Time: 2, Node: 1}}),
		golden: "07" +
			"07" + "01" + "6b" + "d00f" + "00000007" + "0000010000000000" + "ac02" +
			"00" + "01" + "61" + "02" + "7879" + "0000000000000002" + "01",
		again:   reencodeChunk,
		shorter: []int{1, 20},
	},
	{
		name: "msgSyncDone", msg: appendDone(nil, 3), golden: "08" + "0000000000000003",
		again: func(msg []byte) ([]byte, error) {
			n, err := decodeDone(msg)
			return appendDone(nil, n), err
		},
	},
	{
		name:   "msgDigest",
		msg:    appendDigest(nil, msgDigest, sessiond.Version{Time: 1 << 40, Node: 300}, wireDigests),
		golden: "09" + "0000010000000000" + "ac02" + strings.Repeat("0123456789abcdef", 1<<repairBits),
		again:  reencodeDigest,
	},
	{name: "msgNotReady", msg: []byte{msgNotReady}, golden: "0a"},
	{
		name:   "msgVersions",
		msg:    appendKeyVersion(appendKeyVersion([]byte{msgVersions}, keyVersion{5, sessiond.Version{Time: 1}}), keyVersion{20, sessiond.Version{Time: 9, Node: 2}}),
		golden: "0b" + "0000000000000005" + "0000000000000001" + "00" + "0000000000000014" + "0000000000000009" + "02",
		again: func(msg []byte) ([]byte, error) {
			d := decoder{b: msg}
			if d.byte("kind") != msgVersions {
				return nil, fmt.Errorf("%w: not a version list", errMalformed)
			}
			out := []byte{msgVersions}
			for d.err == nil && len(d.b) > 0 {
				out = appendKeyVersion(out, d.keyVersion())
			}
			return out, d.err
		},
		shorter: []int{1, 18},
	},
	{
		name:   "msgWant",
		msg:    binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{msgWant}, 5), 20),
		golden: "0c" + "0000000000000005" + "0000000000000014",
		again: func(msg []byte) ([]byte, error) {
			d := decoder{b: msg}
			if d.byte("kind") != msgWant {
				return nil, fmt.Errorf("%w: not a hash list", errMalformed)
			}
			hashes, err := decodeHashes(nil, d.b)
			out := []byte{msgWant}
			for _, h := range hashes {
				out = binary.BigEndian.AppendUint64(out, h)
			}
			return out, err
		},
		shorter: []int{1, 9},
	},
	{
		name:   "msgCatchUp",
		msg:    appendDigest(nil, msgCatchUp, sessiond.Version{}, wireDigests),
		golden: "0d" + "0000000000000000" + "00" + strings.Repeat("0123456789abcdef", 1<<repairBits),
		again:  reencodeDigest,
	},
}

// wireDigests is a repair round's digests, each bucket's the same.
var wireDigests = slices.Repeat([]uint64{0x0123456789abcdef}, 1<<repairBits)

// reencodeChunk decodes a msgSyncChunk as a receiver does, record by
// record, and encodes it again.
func reencodeChunk(msg []byte) ([]byte, error) {
	if len(msg) == 0 || msg[0] != msgSyncChunk {
		return nil, fmt.Errorf("%w: not a chunk", errMalformed)
	}
	recs, err := decodeAll(msg[1:])
	out := []byte{msgSyncChunk}
	for i := range recs {
		out = appendRecord(out, &recs[i])
	}
	return out, err
}

// reencodeDigest decodes a msgDigest or msgCatchUp and encodes it again.
func reencodeDigest(msg []byte) ([]byte, error) {
	floor, d, err := decodeDigest(msg)
	if err != nil {
		return nil, err
	}
	return appendDigest(nil, msg[0], floor, d), nil
}

// reencodeLog decodes a msgLog as a receiver does, entry by entry, and
// encodes it again.
func reencodeLog(msg []byte) ([]byte, error) {
	first, count, entries, err := decodeLog(msg)
	if err != nil {
		return nil, err
	}
	out := appendLogHeader(nil, first, int(count))
	d := decoder{b: entries}
	for range count {
		var rec sessiond.Record
		switch kind, clear := d.entry(&rec, 1<<20); {
		case d.err != nil:
			return nil, d.err
		case kind == entryRecord:
			out = appendEntryRecord(out, &rec)
		default:
			out = appendEntryClear(out, clear)
		}
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the entries", errMalformed, len(d.b))
	}
	return out, nil
}

func TestWireBytes(t *testing.T) {
	for _, m := range wireMessages {
		t.Run(m.name, func(t *testing.T) {
			if got := hex.EncodeToString(m.msg); got != m.golden {
				t.Errorf("encoded as %s\nwant        %s", got, m.golden)
			}
		})
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range wireMessages {
		if m.again == nil {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			got, err := m.again(m.msg)
			if err != nil || !bytes.Equal(got, m.msg) {
				t.Fatalf("decoded and encoded again: %x, %v\nwant %x", got, err, m.msg)
			}
		})
	}
}

// TestWireTruncated: a message cut short is refused, unless what is left
// is a message too.
func TestWireTruncated(t *testing.T) {
	for _, m := range wireMessages {
		if m.again == nil {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			for n := range len(m.msg) {
				_, err := m.again(m.msg[:n])
				if slices.Contains(m.shorter, n) {
					if err != nil {
						t.Errorf("its first %d bytes: %v, want a shorter message", n, err)
					}
					continue
				}
				if err == nil || !m.anyError && !errors.Is(err, errMalformed) {
					t.Errorf("its first %d bytes: %v, want errMalformed", n, err)
				}
			}
		})
	}
}

// TestWireGarbage: a message whose first byte is 0 (no kind, no layout of
// the metadata, and a hello of a cluster without a name whose node's name
// is longer than what follows) is refused.
func TestWireGarbage(t *testing.T) {
	for _, m := range wireMessages {
		if m.again == nil {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			garbage := append([]byte{0}, m.msg[1:]...)
			if _, err := m.again(garbage); err == nil || !m.anyError && !errors.Is(err, errMalformed) {
				t.Errorf("%x: %v, want errMalformed", garbage, err)
			}
		})
	}
}

// FuzzWire: any bytes given to the decoder of a kind of message decode or
// are refused with errMalformed, never a panic; what decodes encodes to
// bytes that decode to the same message again.
func FuzzWire(f *testing.F) {
	for i, m := range wireMessages {
		f.Add(uint8(i), m.msg)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		m := wireMessages[int(which)%len(wireMessages)]
		if m.again == nil {
			return
		}
		out, err := m.again(data)
		if err != nil {
			if !m.anyError && !errors.Is(err, errMalformed) {
				t.Fatalf("%s: error %v is not errMalformed", m.name, err)
			}
			return
		}
		again, err := m.again(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%s: %x decoded and encoded as %x, then as %x, %v", m.name, data, out, again, err)
		}
	})
}
