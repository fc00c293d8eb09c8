package cluster

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sessiond/sessiond"
)

// The version and hash lists of a repair round (see repair.go): how two
// nodes find, key by key, the records of the differing buckets that one
// holds newer.

// keyVersion is a record in a repair round's version list.
type keyVersion struct {
	h uint64 // the key's hash (bucketOf)
	v sessiond.Version
}

// versions returns the key hash and version of every record in the
// buckets of diff, sorted by hash.
func (n *Node) versions(diff []bool, pc pace) ([]keyVersion, error) {
	var list []keyVersion
	for cursor := uint64(0); ; {
		var err error
		start := pc.step()
		cursor, err = n.st.Replica().Records(cursor, 1024, func(rec *sessiond.Record) {
			if b, h := bucketOf(rec.Key); diff[b] {
				list = append(list, keyVersion{h, rec.Version})
			}
		})
		pc.done(start)
		if err != nil {
			return nil, err
		}
		if cursor == 0 {
			break
		}
	}
	slices.SortFunc(list, func(a, b keyVersion) int { return cmp.Compare(a.h, b.h) })
	return list, nil
}

// repairMsgSize is the size at which version and hash lists are cut into
// messages.
const repairMsgSize = 64 << 10

// maxRepairList bounds the entries of a version list a peer sends in one
// round, and so what the round holds for it (8 bytes an entry): 64 million,
// more records than a store of sessions holds (38 GB of them), so that a
// broken peer cannot make the round hold unbounded memory. The hashes a
// peer asks for are bounded by the list it was sent.
const maxRepairList = 1 << 26

// sendVersions sends list as msgVersions messages and a msgSyncDone.
func sendVersions(ch *channel, list []keyVersion) error {
	return sendList(ch, msgVersions, len(list), repairMsgSize, func(b []byte, i int) []byte {
		return appendKeyVersion(b, list[i])
	})
}

// compareVersions reads the peer's version list and merges it with mine
// (both sorted by hash). It returns the hashes of the keys this node holds
// newer or alone (to send) and of those the peer holds newer or alone (to
// ask for), each in order.
func compareVersions(ch *channel, mine []keyVersion) (send, want []uint64, err error) {
	m := versionMerge{mine: mine}
	sent, err := readList(ch, msgVersions, "a version list", func(d *decoder, _ []byte) error { return m.add(d) })
	if err == nil {
		err = m.finish(sent)
	}
	if err != nil {
		return nil, nil, err
	}
	return m.send, m.want, nil
}

// versionMerge merges a peer's version list, message by message, with
// this node's.
type versionMerge struct {
	mine        []keyVersion
	i           int    // mine[:i] are merged
	count, prev uint64 // the peer's entries so far, and the last hash
	send, want  []uint64
}

// add merges the entries of a msgVersions body.
func (m *versionMerge) add(d *decoder) error {
	for len(d.b) > 0 {
		theirs := d.keyVersion()
		h := theirs.h
		if d.err == nil && (m.count > 0 && h < m.prev || m.count >= maxRepairList) {
			d.fail("version list out of order or too long")
		}
		if d.err != nil {
			return d.err
		}
		m.count, m.prev = m.count+1, h
		for ; m.i < len(m.mine) && m.mine[m.i].h < h; m.i++ {
			m.send = append(m.send, m.mine[m.i].h)
		}
		if m.i < len(m.mine) && m.mine[m.i].h == h {
			switch m.mine[m.i].v.Compare(theirs.v) {
			case 1:
				m.send = append(m.send, h)
			case -1:
				m.want = append(m.want, h)
			}
			m.i++
		} else {
			m.want = append(m.want, h)
		}
	}
	return nil
}

// finish ends the merge once the peer says it sent sent entries.
func (m *versionMerge) finish(sent uint64) error {
	if sent != m.count {
		return fmt.Errorf("%w: %d versions sent, %d arrived", errMalformed, sent, m.count)
	}
	for _, kv := range m.mine[m.i:] {
		m.send = append(m.send, kv.h)
	}
	m.i = len(m.mine)
	return nil
}

// sendHashes sends hashes as msgWant messages and a msgSyncDone.
func sendHashes(ch *channel, hashes []uint64) error {
	return sendList(ch, msgWant, len(hashes), repairMsgSize, func(b []byte, i int) []byte {
		return binary.BigEndian.AppendUint64(b, hashes[i])
	})
}

// receiveHashes reads what sendHashes sent: at most limit hashes (a peer
// asks only for records of the list it was sent).
func receiveHashes(ch *channel, limit int) ([]uint64, error) {
	var hashes []uint64
	sent, err := readList(ch, msgWant, "a hash list", func(d *decoder, _ []byte) (err error) {
		if hashes, err = decodeHashes(hashes, d.b); err != nil {
			return err
		}
		if len(hashes) > limit {
			return fmt.Errorf("%w: asked for %d records of a list of %d", errMalformed, len(hashes), limit)
		}
		return nil
	})
	if err == nil && sent != uint64(len(hashes)) {
		err = fmt.Errorf("%w: %d hashes sent, %d arrived", errMalformed, sent, len(hashes))
	}
	if err != nil {
		return nil, err
	}
	return hashes, nil
}

// inBuckets selects the records of the buckets of diff whose key hashes
// are in hashes (sorted), but for those stamped within fresh.
func inBuckets(diff []bool, hashes []uint64, fresh window) func(*sessiond.Record) bool {
	return func(rec *sessiond.Record) bool {
		b, h := bucketOf(rec.Key)
		if !diff[b] || fresh.holds(rec.Version.Time) {
			return false
		}
		_, found := slices.BinarySearch(hashes, h)
		return found
	}
}
