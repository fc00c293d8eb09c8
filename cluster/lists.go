package cluster

import "fmt"

// A list — the records of a sync or of one side of a repair, a repair
// round's version or hash list — goes as messages of one kind, each cut at
// about msgSize bytes, and a msgSyncDone with the number of items sent.

// sendList sends n items as messages of kind, each item appended by
// appendItem, and the msgSyncDone. It does not flush.
func sendList(ch *channel, kind byte, n, msgSize int, appendItem func(b []byte, i int) []byte) error {
	b := make([]byte, 0, msgSize+64)
	for i := range n {
		if len(b) == 0 {
			b = append(b, kind)
		}
		b = appendItem(b, i)
		if len(b) >= msgSize || i == n-1 {
			if err := ch.writeMsg(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	return ch.writeMsg(appendDone(nil, uint64(n)))
}

// readList reads messages of kind, passing each (after its kind byte) to
// take, until the msgSyncDone, and returns the number of items it says
// were sent: the caller checks it against what arrived. what names the
// list for the error when another message comes.
func readList(ch *channel, kind byte, what string, take func(d *decoder, msg []byte) error) (sent uint64, err error) {
	for {
		msg, err := ch.readMsg()
		if err != nil {
			return 0, err
		}
		d := decoder{b: msg}
		switch d.byte("kind") {
		case kind:
			if err := take(&d, msg); err != nil {
				return 0, err
			}
		case msgSyncDone:
			return decodeDone(msg)
		default:
			return 0, fmt.Errorf("%w: expected %s", errMalformed, what)
		}
	}
}
