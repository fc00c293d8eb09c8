package sessiond

import "fmt"

// check verifies the store's internal invariants: the index is sorted and
// every entry sits at or after its home; every indexed record is live and
// has the key its tag says; segment and shard counters match the records.
func (st *Store) check() error {
	for si := range st.shards {
		sh := &st.shards[si]
		sh.mu.Lock()
		err := sh.check(si)
		sh.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (sh *shard) check(si int) error {
	x := &sh.idx
	var prev uint32
	count, keys, vols, tombs := 0, 0, 0, 0
	var bytes int64
	indexed := map[uint32]bool{}
	for i, e := range x.slots {
		if e == 0 {
			continue
		}
		t, loc := entryTag(e), entryLoc(e)
		if count > 0 && t < prev {
			return fmt.Errorf("shard %d slot %d: tag %x after %x", si, i, t, prev)
		}
		if h := x.home(t); h > i {
			return fmt.Errorf("shard %d slot %d: entry before its home %d", si, i, h)
		}
		prev = t
		count++
		s := sh.segs[loc>>16]
		if s == nil {
			return fmt.Errorf("shard %d slot %d: location %x in a free segment", si, i, loc)
		}
		v := sh.at(loc)
		if v.dead() {
			return fmt.Errorf("shard %d slot %d: indexed record is dead", si, i)
		}
		h := sh.st.hash(string(v.key()))
		if uint32(h>>32) != t || int(h&sh.st.mask) != si {
			return fmt.Errorf("shard %d slot %d: key %q does not hash to its tag", si, i, v.key())
		}
		switch {
		case v.tomb():
			tombs++
		case v.expires() != 0:
			keys++
			vols++
		default:
			keys++
		}
		bytes += int64(v.size())
		indexed[loc] = true
	}
	if count != x.count {
		return fmt.Errorf("shard %d: index count %d, found %d", si, x.count, count)
	}
	if keys != sh.keys || vols != sh.vols || tombs != sh.tombs || bytes != sh.bytes {
		return fmt.Errorf("shard %d: counters keys %d vols %d tombs %d bytes %d, found %d %d %d %d", si, sh.keys, sh.vols, sh.tombs, sh.bytes, keys, vols, tombs, bytes)
	}
	for id, s := range sh.segs {
		if s == nil {
			continue
		}
		live, dead := 0, 0
		for off := 0; off < s.used; {
			loc := uint32(id)<<16 | uint32(off)
			v := view(s.buf[off:])
			n := v.space()
			if n <= 0 || off+n > s.used {
				return fmt.Errorf("shard %d segment %d offset %d: bad record size %d", si, id, off, n)
			}
			off += n
			if v.dead() {
				dead += n
				continue
			}
			if !indexed[loc] {
				return fmt.Errorf("shard %d segment %d: live record %q not indexed", si, id, v.key())
			}
			if e := v.expires(); e != 0 && s.minExp != 0 && e < s.minExp {
				return fmt.Errorf("shard %d segment %d: record expires %d before the segment's minimum %d", si, id, e, s.minExp)
			}
			if e := v.expires(); e != 0 && s.minExp == 0 {
				return fmt.Errorf("shard %d segment %d: record expires but the segment's minimum is unset", si, id)
			}
			live++
		}
		if live != s.live || dead != s.dead {
			return fmt.Errorf("shard %d segment %d: live %d dead %d, found %d %d", si, id, s.live, s.dead, live, dead)
		}
	}
	return nil
}
