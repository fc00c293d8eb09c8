package mergepatch

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// Apply returns the result of applying the merge patch patch to target,
// as compact JSON in a new slice. An empty target is no value at all. On
// error, the *Error says which input was wrong and how; nothing is
// returned.
func Apply(target, patch []byte) ([]byte, error) {
	out, err := AppendApply(make([]byte, 0, len(target)+len(patch)), target, patch)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendApply appends the result of applying patch to target to dst and
// returns the extended slice. On error it returns dst unchanged. dst must
// not share memory with target or patch.
func AppendApply(dst, target, patch []byte) ([]byte, error) {
	a := pool.Get().(*applier)
	defer a.release()
	if err := a.parse(&a.p, patch, inputPatch); err != nil {
		return dst, err
	}
	if len(target) > 0 {
		if err := a.parse(&a.t, target, inputTarget); err != nil {
			return dst, err
		}
	} else {
		a.t = doc{src: target, members: a.t.members[:0], objects: a.t.objects[:0]}
		a.t.root = member{kind: kindNull, obj: -1}
	}
	root := &a.p.root
	if root.kind != kindObject {
		return a.p.appendValue(dst, root), nil
	}
	tobj := -1
	if a.t.root.kind == kindObject {
		tobj = int(a.t.root.obj)
	}
	return a.mergeObject(dst, tobj, int(root.obj)), nil
}

// applier is the state of one Apply, pooled so that a call in a steady
// state allocates nothing.
type applier struct {
	parser
	t, p  doc
	names []byte // decoded member names that are not plain
	table []int  // open-addressing hash table of member indexes, plus one
	seed  maphash.Seed
}

var pool = sync.Pool{New: func() any { return &applier{seed: maphash.MakeSeed()} }}

// retain is the most elements a pooled buffer keeps: one huge call must
// not pin its memory for ever.
const retain = 1 << 14

func (a *applier) release() {
	a.t.src, a.p.src = nil, nil
	if cap(a.t.members) > retain || cap(a.p.members) > retain || cap(a.scratch) > retain ||
		cap(a.names) > retain || cap(a.table) > retain || cap(a.stack) > retain {
		return
	}
	a.names = a.names[:0]
	pool.Put(a)
}

// smallObject is the most members an object may have for names to be
// compared pairwise rather than through a hash table.
const smallObject = 8

// mergeObject appends the merge of the patch's object pobj into the
// target's object tobj (-1: the target is not an object, so {} per the
// RFC). Target members keep their order; new ones follow in the patch's.
// A name written twice in one object counts once, at its first place,
// with its last value, as encoding/json and JSON.parse read it. Its
// recursion follows the patch's nested objects, at most MaxDepth deep.
func (a *applier) mergeObject(dst []byte, tobj, pobj int) []byte {
	po := a.p.objects[pobj]
	pm := a.p.members[po.first : po.first+po.n]
	var tm []member
	if tobj >= 0 {
		to := a.t.objects[tobj]
		tm = a.t.members[to.first : to.first+to.n]
	}
	a.group(&a.p, pm)
	if len(tm) > 0 {
		a.group(&a.t, tm) // leaves its table in a.table for lookups
		for j := range pm {
			if pm[j].dup {
				continue
			}
			if i := a.lookup(tm, a.p.name(&pm[j], a.names)); i >= 0 {
				tm[i].match = int32(j)
				pm[j].matched = true
			}
		}
	}

	dst = append(dst, '{')
	n := 0
	for i := range tm {
		m := &tm[i]
		if m.dup {
			continue
		}
		tv := &tm[m.last]
		if m.match < 0 {
			dst = a.t.appendMember(dst, m, tv, n)
			n++
			continue
		}
		pv := &pm[pm[m.match].last]
		if pv.kind == kindNull {
			continue
		}
		dst = a.t.appendKey(dst, m, n)
		n++
		dst = a.mergeValue(dst, tv, pv)
	}
	for j := range pm {
		m := &pm[j]
		if m.dup || m.matched {
			continue
		}
		pv := &pm[m.last]
		if pv.kind == kindNull {
			continue
		}
		dst = a.p.appendKey(dst, m, n)
		n++
		dst = a.mergeValue(dst, nil, pv)
	}
	return append(dst, '}')
}

// mergeValue appends the merge of the patch value pv into the target
// value tv (nil: none).
func (a *applier) mergeValue(dst []byte, tv, pv *member) []byte {
	if pv.kind != kindObject {
		return a.p.appendValue(dst, pv)
	}
	tobj := -1
	if tv != nil && tv.kind == kindObject {
		tobj = int(tv.obj)
	}
	return a.mergeObject(dst, tobj, int(pv.obj))
}

// group finds the names written more than once in an object's members:
// it marks later occurrences dup and points each first one at its last.
// For a large object it leaves the first occurrences in a.table.
func (a *applier) group(d *doc, ms []member) {
	for i := range ms {
		m := &ms[i]
		m.last, m.dup, m.match, m.matched = int32(i), false, -1, false
		if m.plain {
			m.nameLo, m.nameHi = int(m.key.lo)+1, int(m.key.hi)-1
		} else {
			m.nameLo = len(a.names)
			a.names = appendUnquoted(a.names, d.src[m.key.lo+1:m.key.hi-1])
			m.nameHi = len(a.names)
		}
	}
	if len(ms) <= smallObject {
		for i := range ms {
			name := d.name(&ms[i], a.names)
			for k := 0; k < i; k++ {
				if !ms[k].dup && bytes.Equal(d.name(&ms[k], a.names), name) {
					ms[k].last = int32(i)
					ms[i].dup = true
					break
				}
			}
		}
		return
	}
	size := 16
	for size < 2*len(ms) {
		size *= 2
	}
	if cap(a.table) < size {
		a.table = make([]int, size)
	}
	a.table = a.table[:size]
	clear(a.table)
	mask := size - 1
	for i := range ms {
		name := d.name(&ms[i], a.names)
		for h := int(maphash.Bytes(a.seed, name)) & mask; ; h = (h + 1) & mask {
			e := a.table[h]
			if e == 0 {
				a.table[h] = i + 1
				break
			}
			if bytes.Equal(d.name(&ms[e-1], a.names), name) {
				ms[e-1].last = int32(i)
				ms[i].dup = true
				break
			}
		}
	}
}

// lookup returns the index of the first target member named name, or -1.
// tm has been grouped last.
func (a *applier) lookup(tm []member, name []byte) int {
	if len(tm) <= smallObject {
		for i := range tm {
			if !tm[i].dup && bytes.Equal(a.t.name(&tm[i], a.names), name) {
				return i
			}
		}
		return -1
	}
	mask := len(a.table) - 1
	for h := int(maphash.Bytes(a.seed, name)) & mask; ; h = (h + 1) & mask {
		e := a.table[h]
		if e == 0 {
			return -1
		}
		if bytes.Equal(a.t.name(&tm[e-1], a.names), name) {
			return e - 1
		}
	}
}

// name returns a grouped member's decoded name.
func (d *doc) name(m *member, names []byte) []byte {
	if m.plain {
		return d.src[m.nameLo:m.nameHi]
	}
	return names[m.nameLo:m.nameHi]
}

// appendKey appends a comma unless the member is the object's first (n is
// how many were written before), then the name as written and a colon.
func (d *doc) appendKey(dst []byte, m *member, n int) []byte {
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, d.src[m.key.lo:m.key.hi]...)
	return append(dst, ':')
}

// appendMember appends the name of m and the value of v, as written.
func (d *doc) appendMember(dst []byte, m, v *member, n int) []byte {
	return d.appendValue(d.appendKey(dst, m, n), v)
}

// appendValue appends a value as written, without whitespace.
func (d *doc) appendValue(dst []byte, v *member) []byte {
	b := d.src[v.val.lo:v.val.hi]
	if !d.spaced {
		return append(dst, b...)
	}
	return appendCompact(dst, b)
}

// appendCompact appends valid JSON without the whitespace outside its
// strings.
func appendCompact(dst, b []byte) []byte {
	start := 0
	inString := false
	for j := 0; j < len(b); j++ {
		c := b[j]
		if inString {
			switch c {
			case '\\':
				j++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			dst = append(dst, b[start:j]...)
			start = j + 1
		}
	}
	return append(dst, b[start:]...)
}
