package memcache

// Op is a command's name.
type Op uint8

// The commands the reader knows. Any other name is refused with ERROR, as
// memcached refuses it.
const (
	Get Op = iota + 1
	Gets
	Gat
	Gats
	Set
	Add
	Replace
	Append
	Prepend
	Cas
	Touch
	Incr
	Decr
	Delete
	FlushAll
	Version
	Verbosity
	Stats
	Quit
)

// Ops is one more than the largest Op: a table indexed by Op has Ops
// entries.
const Ops = int(Quit) + 1

var opNames = [...]string{
	Get: "get", Gets: "gets", Gat: "gat", Gats: "gats",
	Set: "set", Add: "add", Replace: "replace", Append: "append", Prepend: "prepend", Cas: "cas",
	Touch: "touch", Incr: "incr", Decr: "decr", Delete: "delete",
	FlushAll: "flush_all", Version: "version", Verbosity: "verbosity", Stats: "stats", Quit: "quit",
}

// String returns the command's name as a client sends it.
func (op Op) String() string {
	if int(op) < len(opNames) && opNames[op] != "" {
		return opNames[op]
	}
	return "unknown"
}

// lookupOp returns the command named name, or 0. Names are case-sensitive,
// as in memcached.
func lookupOp(name []byte) Op {
	switch string(name) {
	case "get":
		return Get
	case "gets":
		return Gets
	case "gat":
		return Gat
	case "gats":
		return Gats
	case "set":
		return Set
	case "add":
		return Add
	case "replace":
		return Replace
	case "append":
		return Append
	case "prepend":
		return Prepend
	case "cas":
		return Cas
	case "touch":
		return Touch
	case "incr":
		return Incr
	case "decr":
		return Decr
	case "delete":
		return Delete
	case "flush_all":
		return FlushAll
	case "version":
		return Version
	case "verbosity":
		return Verbosity
	case "stats":
		return Stats
	case "quit":
		return Quit
	}
	return 0
}

// Command is one command a client sent, parsed. Fields a command does not
// take are zero.
type Command struct {
	// Op is the command.
	Op Op
	// Key is the key of a command that takes one key.
	Key []byte
	// Keys are the keys of get, gets, gat and gats, in order: all of them,
	// or a batch of Limits.MaxKeys when More is set. gat and gats may have
	// none.
	Keys [][]byte
	// More is set when the line has more keys than Keys holds: the next
	// Read returns the same command with the next batch of them, without
	// reading from the connection. Every key of the line is checked before
	// the first batch is returned, so a line with a bad key is refused
	// whole, with no batch of it returned. A server answers each batch and
	// ends the reply (END) after the one without More.
	More bool
	// Flags are a storage command's client flags.
	Flags uint32
	// Exptime is the expiry as sent, of a storage command, touch, gat and
	// gats, or flush_all's delay (0 without one). The server applies
	// memcached's rules to it: 0 is none, up to 30 days is relative, more
	// is an absolute unix time, negative is already expired.
	Exptime int64
	// Cas is the cas unique of a cas command.
	Cas uint64
	// Delta is the amount of incr and decr.
	Delta uint64
	// Data is a storage command's data block, without its CRLF.
	Data []byte
	// TooLarge is set on a storage command whose data block was longer
	// than Limits.MaxValue: the block was skipped and Data is nil.
	// memcached replies SERVER_ERROR object too large for cache.
	TooLarge bool
	// NoReply is set when the command ended in noreply: the client wants
	// no reply.
	NoReply bool
	// Args are the arguments of stats.
	Args [][]byte
}

// isRetrieval reports whether op is get, gets, gat or gats.
func (op Op) isRetrieval() bool { return op >= Get && op <= Gats }

// IsStorage reports whether op carries a data block: set, add, replace,
// append, prepend and cas.
func (op Op) IsStorage() bool { return op >= Set && op <= Cas }

// parse makes a command of the line just tokenized. A command with a data
// block goes on in block or skipBlock.
func (r *Reader) parse() (bool, error) {
	r.cmd = Command{}
	if len(r.toks) == 0 {
		return r.refuse(replyError)
	}
	c := &r.cmd
	c.Op = lookupOp(r.tok(0))
	n := len(r.toks)
	switch op := c.Op; {
	case op == Get, op == Gets:
		if n < 2 {
			return r.refuse(replyError)
		}
		return r.keyList(1)
	case op == Gat, op == Gats:
		if n < 2 {
			return r.refuse(replyError)
		}
		exp, ok := parseInt(r.tok(1))
		if !ok {
			return r.refuse(replyBadExptime)
		}
		c.Exptime = exp
		return r.keyList(2)
	case op.IsStorage():
		return r.storage()
	case op == Incr, op == Decr, op == Touch:
		// key, then the delta or the exptime.
		if n != 3 && n != 4 {
			return r.refuse(replyError)
		}
		r.noReply()
		if !r.keyAt(1) {
			return r.refuse(replyBadFormat)
		}
		var ok bool
		if op == Touch {
			c.Exptime, ok = parseInt(r.tok(2))
			if !ok {
				return r.refuse(replyBadExptime)
			}
		} else if c.Delta, ok = parseUint(r.tok(2)); !ok {
			return r.refuse(replyBadDelta)
		}
	case op == Delete:
		if n < 2 || n > 4 {
			return r.refuse(replyError)
		}
		// "delete key 0" is an old form memcached still takes; any
		// other time is refused.
		if n > 2 {
			zero := string(r.tok(2)) == "0"
			r.noReply()
			if !(n == 3 && (zero || c.NoReply) || n == 4 && zero && c.NoReply) {
				return r.refuse(replyDeleteUsage)
			}
		}
		if !r.keyAt(1) {
			return r.refuse(replyBadFormat)
		}
	case op == FlushAll:
		if n > 3 {
			return r.refuse(replyError)
		}
		r.noReply()
		if n > 1 && !(n == 2 && c.NoReply) {
			d, ok := parseInt(r.tok(1))
			if !ok {
				return r.refuse(replyBadExptime)
			}
			c.Exptime = d
		}
	case op == Verbosity:
		if n != 2 && n != 3 {
			return r.refuse(replyError)
		}
		r.noReply()
		if _, ok := parseUint(r.tok(1)); !ok {
			return r.refuse(replyBadFormat)
		}
	case op == Stats:
		c.Args = r.keys[:0]
		for i := 1; i < n; i++ {
			c.Args = append(c.Args, r.tok(i))
		}
		r.keys = c.Args
	case op == Version, op == Quit:
	default:
		return r.refuse(replyError)
	}
	r.consume(r.line)
	return true, nil
}

// refuse ends the current line with a refusal.
func (r *Reader) refuse(reply string) (bool, error) {
	r.consume(r.line)
	return false, &CommandError{Reply: reply, NoReply: r.cmd.NoReply}
}

// noReply sets NoReply if the last token is noreply, as memcached's
// set_noreply_maybe does.
func (r *Reader) noReply() {
	r.cmd.NoReply = string(r.tok(len(r.toks)-1)) == "noreply"
}

// keyAt sets the command's key to token i and reports whether it is valid.
func (r *Reader) keyAt(i int) bool {
	r.cmd.Key = r.tok(i)
	return validKey(r.cmd.Key)
}

// validKey reports whether k is a key memcached takes: at most 250 bytes,
// none of them a control character (spaces cannot be in a token).
func validKey(k []byte) bool {
	if len(k) > MaxKeyLen {
		return false
	}
	for _, b := range k {
		if b < ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

// validKeys reports whether every token of b, split at spaces, is a valid
// key: the keys validKey would check one at a time, in one pass.
func validKeys(b []byte) bool {
	n := 0 // bytes of the token so far
	for _, c := range b {
		switch {
		case c == ' ':
			n = 0
		case c < ' ' || c == 0x7f:
			return false
		default:
			if n++; n > MaxKeyLen {
				return false
			}
		}
	}
	return true
}

// keyList sets the command's keys to the tokens from first on, or to the
// first MaxKeys of them if there are more: the rest follow in batches, from
// nextKeys. Keys past the tokens tokenize kept are checked here too, so
// that a bad key anywhere refuses the whole line, nothing answered for the
// keys before it, as in memcached.
func (r *Reader) keyList(first int) (bool, error) {
	toks := r.toks[first:]
	more := len(toks) > r.lim.MaxKeys
	if more {
		toks = toks[:r.lim.MaxKeys]
		r.next = toks[len(toks)-1][1]
		if !validKeys(r.buf[r.r+r.next : r.r+r.text]) {
			return r.refuse(replyBadFormat)
		}
	}
	keys := r.keys[:0]
	for _, t := range toks {
		k := r.span(t)
		if !validKey(k) {
			r.keys = keys
			return r.refuse(replyBadFormat)
		}
		keys = append(keys, k)
	}
	r.keys = keys
	r.cmd.Keys, r.cmd.More = keys, more
	if more {
		// The line stays buffered, and r where it is, until its last
		// batch.
		r.st = stKeys
		return true, nil
	}
	r.consume(r.line)
	return true, nil
}

// nextKeys returns the next batch of keys of the line keyList began: it
// has checked them all, and reads nothing.
func (r *Reader) nextKeys() (bool, error) {
	r.tokenize(r.buf[r.r:r.r+r.text], r.next, r.lim.MaxKeys+1)
	toks := r.toks
	more := len(toks) > r.lim.MaxKeys
	if more {
		toks = toks[:r.lim.MaxKeys]
		r.next = toks[len(toks)-1][1]
	}
	keys := r.keys[:0]
	for _, t := range toks {
		keys = append(keys, r.span(t))
	}
	r.keys = keys
	r.cmd.Keys, r.cmd.More = keys, more
	if !more {
		r.consume(r.line)
	}
	return true, nil
}

// SkipKeys drops the batches of the command Read returned last that are
// still to come (see Command.More), so that the next Read returns the next
// command: for a server that stops answering a get partway, on an error.
func (r *Reader) SkipKeys() {
	if r.st == stKeys {
		r.consume(r.line)
		// The command ends with the batch the server answered last.
		r.cmd.More = false
	}
}

// storage parses "cmd key flags exptime bytes [cas] [noreply]" and goes on
// to read or skip the data block.
func (r *Reader) storage() (bool, error) {
	c := &r.cmd
	n, want := len(r.toks), 5
	if c.Op == Cas {
		want = 6
	}
	if n != want && n != want+1 {
		// memcached does not know where the block is either: it
		// reads it as commands.
		return r.refuse(replyError)
	}
	r.noReply()
	size, ok := parseInt(r.tok(4))
	switch {
	case !ok || size < 0:
		return r.refuse(replyBadFormat)
	case size > maxBlock:
		// No server reads this; the client has lost count, or is
		// trying to make the server hold it.
		r.consume(r.line)
		return false, &CommandError{Reply: replyBadFormat, NoReply: c.NoReply, Fatal: true}
	}
	flags, okFlags := parseUint(r.tok(2))
	exp, okExp := parseInt(r.tok(3))
	okCas := true
	if c.Op == Cas {
		c.Cas, okCas = parseUint(r.tok(5))
	}
	c.Flags, c.Exptime = uint32(flags), exp
	switch {
	case !r.keyAt(1) || !okFlags || flags > 1<<32-1 || !okExp || !okCas:
		// Unlike memcached, which reads the block as commands, skip it:
		// a value's bytes must never run as commands.
		r.err = &CommandError{Reply: replyBadFormat, NoReply: c.NoReply}
	case size > int64(r.lim.MaxValue):
		r.key = append(r.key[:0], c.Key...)
		c.Key, c.TooLarge = r.key, true
	default:
		r.st, r.need = stBlock, int(size)
		return r.block()
	}
	r.consume(r.line)
	r.st, r.skip = stSkip, int(size)+2
	return r.skipBlock()
}

// block completes a storage command once its data block has arrived.
func (r *Reader) block() (bool, error) {
	end := r.r + r.line + r.need
	if r.w-end < 2 {
		return false, nil
	}
	if r.buf[end] != '\r' || r.buf[end+1] != '\n' {
		return false, &CommandError{Reply: replyBadChunk, NoReply: r.cmd.NoReply, Fatal: true}
	}
	// The buffer may have moved since the line was parsed.
	r.cmd.Key = r.tok(1)
	r.cmd.Data = r.buf[r.r+r.line : end : end]
	r.consume(r.line + r.need + 2)
	return true, nil
}

// skipBlock discards a data block as it arrives, keeping its last two bytes
// to check that they are the CRLF.
func (r *Reader) skipBlock() (bool, error) {
	n := min(r.skip, r.w-r.r)
	for j := max(0, r.skip-2); j < n; j++ {
		r.tail[2-(r.skip-j)] = r.buf[r.r+j]
	}
	r.r += n
	r.skip -= n
	if r.skip > 0 {
		return false, nil
	}
	r.st = stLine
	if r.tail != [2]byte{'\r', '\n'} {
		return false, &CommandError{Reply: replyBadChunk, NoReply: r.cmd.NoReply, Fatal: true}
	}
	if err := r.err; err != nil {
		r.err = nil
		return false, err
	}
	return true, nil
}
