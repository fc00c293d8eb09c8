package mergepatch

import (
	"fmt"
	"math"
)

// MaxDepth is the deepest nesting of objects and arrays Apply reads, in
// either input: a value inside 512 brackets is read, the 513th bracket is
// an error. It bounds the merge's recursion, which follows the patch's
// nested objects, and the depth of what a client reads back.
const MaxDepth = 512

// kind is what the merge needs to know of a value.
type kind uint8

const (
	kindOther  kind = iota // a string, number, true, false or array: copied whole
	kindNull               // null: in a patch, deletes the member
	kindObject             // an object: merged member by member
)

// span is a byte range of an input, hi exclusive. Offsets are int32 to
// keep members small (reading them is most of the work): parse refuses an
// input of 2 GiB or more.
type span struct{ lo, hi int32 }

// member is one name/value pair of an object that is not inside an array
// (the merge never looks into arrays), or a document's root value.
type member struct {
	key  span  // the name as written, quotes included
	val  span  // the value as written
	obj  int32 // the value's index in doc.objects, if kind is kindObject
	kind kind
	// plain is a name without escapes or bytes past ASCII: its bytes
	// between the quotes are its decoded form.
	plain bool

	// Set by the one merge that reads this member's object.
	dup     bool // a later occurrence of a name seen earlier in the object
	matched bool // patch: a target member has the same name
	// The decoded name: in doc.src if plain, else in applier.names, which
	// can outgrow an int32 (a byte that is not UTF-8 decodes to three).
	nameLo, nameHi int
	last           int32 // for a first occurrence, the index of the name's last one
	match          int32 // target: the patch member with the same name, or -1
}

// object is an object's members, members[first:first+n] of its doc, in
// the order written.
type object struct{ first, n int }

// doc is one input, read: its objects outside arrays, their members, and
// its root value.
type doc struct {
	src     []byte
	input   string // inputPatch or inputTarget, for errors
	members []member
	objects []object
	root    member
	// spaced is whitespace outside strings somewhere in src: values copied
	// from it must be compacted.
	spaced bool
}

// frame is an open object or array while a doc is read.
type frame struct {
	array bool
	start int // offset of the bracket
	base  int // object: len(scratch) when it opened
	cur   int // object: scratch index of the member whose value is read
}

// parser holds what reading a doc needs, reused across calls.
type parser struct {
	stack   []frame
	scratch []member // members of the objects still open
}

func (d *doc) fail(off int, format string, a ...any) error {
	return &Error{Input: d.input, Offset: off, Msg: fmt.Sprintf(format, a...)}
}

// parse reads src into d, checking that it is exactly one JSON value as
// encoding/json's Valid defines it, nested at most MaxDepth deep. It uses
// no recursion: the depth of src costs heap, never stack. Members of
// objects inside arrays are checked but not recorded.
func (p *parser) parse(d *doc, src []byte, input string) error {
	*d = doc{src: src, input: input, members: d.members[:0], objects: d.objects[:0]}
	if len(src) > math.MaxInt32 {
		return d.fail(0, "%d bytes is 2 GiB or more", len(src))
	}
	stack := p.stack[:0]
	scratch := p.scratch[:0]
	err := d.read(&stack, &scratch)
	// Keep the grown buffers for the next call, without what they hold.
	p.stack, p.scratch = stack[:0], scratch[:0]
	return err
}

func (d *doc) read(stackp *[]frame, scratchp *[]member) error {
	src, n := d.src, len(d.src)
	stack, scratch := *stackp, *scratchp
	defer func() { *stackp, *scratchp = stack, scratch }()
	arrays := 0 // array frames on the stack: inside one, nothing is recorded

	// complete records a value just read, as the root or as the value of
	// the member being read.
	complete := func(lo, hi int, k kind, obj int) {
		if len(stack) == 0 {
			d.root = member{val: span{int32(lo), int32(hi)}, kind: k, obj: int32(obj)}
			return
		}
		if arrays > 0 {
			return
		}
		m := &scratch[stack[len(stack)-1].cur]
		m.val, m.kind, m.obj = span{int32(lo), int32(hi)}, k, int32(obj)
	}
	// key reads an object's member name and its colon, from i.
	key := func(i int) (int, error) {
		if i == n {
			return i, d.fail(i, "unexpected end of input")
		}
		if src[i] != '"' {
			return i, d.fail(i, "invalid character %s looking for beginning of object key string", quoteChar(src[i]))
		}
		end, plain, err := d.scanString(i)
		if err != nil {
			return end, err
		}
		if arrays == 0 {
			stack[len(stack)-1].cur = len(scratch)
			scratch = append(scratch, member{key: span{int32(i), int32(end)}, plain: plain, obj: -1})
		}
		j := d.space(end)
		if j == n {
			return j, d.fail(j, "unexpected end of input")
		}
		if src[j] != ':' {
			return j, d.fail(j, "invalid character %s after object key", quoteChar(src[j]))
		}
		return j + 1, nil
	}
	// pop closes the innermost container, whose closing bracket ends at i.
	pop := func(i int) {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch {
		case f.array:
			arrays--
			complete(f.start, i, kindOther, -1)
		case arrays > 0:
			complete(f.start, i, kindObject, -1)
		default:
			// Move the object's members out of scratch, where they
			// sat above its parent's, so that they are contiguous.
			first := len(d.members)
			d.members = append(d.members, scratch[f.base:]...)
			scratch = scratch[:f.base]
			d.objects = append(d.objects, object{first: first, n: len(d.members) - first})
			complete(f.start, i, kindObject, len(d.objects)-1)
		}
	}

	i := 0
	for {
		// Read a value, or open a container and go on to its first value.
		i = d.space(i)
		if i == n {
			return d.fail(i, "unexpected end of input")
		}
		c := src[i]
		switch {
		case c == '{' || c == '[':
			if len(stack) == MaxDepth {
				return d.fail(i, "nesting deeper than %d levels", MaxDepth)
			}
			stack = append(stack, frame{array: c == '[', start: i, base: len(scratch), cur: -1})
			if c == '[' {
				arrays++
			}
			j := d.space(i + 1)
			if j < n && src[j] == c+2 { // '}' or ']'
				pop(j + 1)
				i = j + 1
				break
			}
			if c == '[' {
				i = j
				continue
			}
			var err error
			if i, err = key(j); err != nil {
				return err
			}
			continue
		case c == '"':
			end, _, err := d.scanString(i)
			if err != nil {
				return err
			}
			complete(i, end, kindOther, -1)
			i = end
		case c == 't' || c == 'f' || c == 'n':
			end, err := d.scanLiteral(i)
			if err != nil {
				return err
			}
			k := kindOther
			if c == 'n' {
				k = kindNull
			}
			complete(i, end, k, -1)
			i = end
		case c == '-' || c >= '0' && c <= '9':
			end, err := d.scanNumber(i)
			if err != nil {
				return err
			}
			complete(i, end, kindOther, -1)
			i = end
		default:
			return d.fail(i, "invalid character %s looking for beginning of value", quoteChar(c))
		}

		// After a value: commas and closing brackets, until the next
		// value or the end.
		for {
			i = d.space(i)
			if len(stack) == 0 {
				if i != n {
					return d.fail(i, "invalid character %s after top-level value", quoteChar(src[i]))
				}
				return nil
			}
			if i == n {
				return d.fail(i, "unexpected end of input")
			}
			top := stack[len(stack)-1]
			c := src[i]
			if c == ',' {
				i++
				if !top.array {
					var err error
					if i, err = key(d.space(i)); err != nil {
						return err
					}
				}
				break
			}
			if top.array && c == ']' || !top.array && c == '}' {
				i++
				pop(i)
				continue
			}
			if top.array {
				return d.fail(i, "invalid character %s after array element", quoteChar(c))
			}
			return d.fail(i, "invalid character %s after object key:value pair", quoteChar(c))
		}
	}
}

// space skips JSON whitespace from i.
func (d *doc) space(i int) int {
	src := d.src
	j := i
	for j < len(src) {
		switch src[j] {
		case ' ', '\t', '\n', '\r':
			j++
			continue
		}
		break
	}
	if j != i {
		d.spaced = true
	}
	return j
}

// scanString reads the string that starts at i, the offset of its opening
// quote, and returns the offset after its closing quote. plain is a string
// without escapes or bytes past ASCII. Like encoding/json, it takes any
// byte but control characters, valid UTF-8 or not.
func (d *doc) scanString(i int) (end int, plain bool, err error) {
	src := d.src
	plain = true
	for j := i + 1; j < len(src); {
		c := src[j]
		switch {
		case c == '"':
			return j + 1, plain, nil
		case c == '\\':
			plain = false
			if j+1 == len(src) {
				return j + 1, false, d.fail(j+1, "unexpected end of input")
			}
			switch src[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				j += 2
				for k := 0; k < 4; k++ {
					if j == len(src) {
						return j, false, d.fail(j, "unexpected end of input")
					}
					if !isHex(src[j]) {
						return j, false, d.fail(j, "invalid character %s in \\u hexadecimal character escape", quoteChar(src[j]))
					}
					j++
				}
			default:
				return j + 1, false, d.fail(j+1, "invalid character %s in string escape code", quoteChar(src[j+1]))
			}
		case c < 0x20:
			return j, false, d.fail(j, "invalid character %s in string literal", quoteChar(c))
		default:
			if c >= 0x80 {
				plain = false
			}
			j++
		}
	}
	return len(src), false, d.fail(len(src), "unexpected end of input")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber reads the number that starts at i:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *doc) scanNumber(i int) (int, error) {
	src := d.src
	j := i
	if src[j] == '-' {
		j++
	}
	// digits reads one or more digits from j.
	digits := func(j int, what string) (int, error) {
		if j == len(src) {
			return j, d.fail(j, "unexpected end of input")
		}
		if src[j] < '0' || src[j] > '9' {
			return j, d.fail(j, "invalid character %s in %s", quoteChar(src[j]), what)
		}
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		return j, nil
	}
	var err error
	if j < len(src) && src[j] == '0' {
		j++
	} else if j, err = digits(j, "numeric literal"); err != nil {
		return j, err
	}
	if j < len(src) && src[j] == '.' {
		if j, err = digits(j+1, "numeric literal after decimal point"); err != nil {
			return j, err
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		j++
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j, err = digits(j, "numeric literal exponent"); err != nil {
			return j, err
		}
	}
	return j, nil
}

// scanLiteral reads true, false or null from i.
func (d *doc) scanLiteral(i int) (int, error) {
	src := d.src
	var lit string
	switch src[i] {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	default:
		lit = "null"
	}
	for k := 1; k < len(lit); k++ {
		j := i + k
		if j == len(src) {
			return j, d.fail(j, "unexpected end of input")
		}
		if src[j] != lit[k] {
			return j, d.fail(j, "invalid character %s in literal %s (expecting %s)", quoteChar(src[j]), lit, quoteChar(lit[k]))
		}
	}
	return i + len(lit), nil
}
