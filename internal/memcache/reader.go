// Package memcache reads and writes the memcached text protocol, as a server
// needs it: command lines and their data blocks in, replies out. Commands are
// parsed with memcached 1.6's rules, so that a client gets the same reply to
// a malformed line as memcached gives it. The package does no I/O policy of
// its own beyond the limits it is given: it returns typed errors, and the
// server decides what to do with them.
package memcache

import (
	"bytes"
	"errors"
	"io"
	"math"

	"github.com/sessiond/sessiond/internal/inbuf"
)

// Limits bound what one command may make the reader hold. Every limit a
// client controls is here.
type Limits struct {
	// MaxLine is the longest command line, in bytes without its line end,
	// but for get, gets, gat and gats (see MaxKeysLine). A longer line is
	// a fatal error as soon as MaxLine+2 bytes of it have arrived, whether
	// or not its end has, so the answer does not depend on how the
	// connection split the input. If zero, 64 KiB.
	MaxLine int
	// MaxKeysLine is the longest get, gets, gat or gats line, refused as
	// a longer MaxLine is. It is larger because memcached reads a get line
	// of any length, and clients rely on it: gomemcache's GetMulti sends
	// every key for a server on one line. It still bounds what a client
	// can make the reader hold. Whether a line may be this long is decided
	// from its first MaxLine+1 bytes, which must hold the command's name
	// and the space after it. If zero, 2 MiB; never less than MaxLine.
	MaxKeysLine int
	// MaxValue is the longest data block a storage command may carry. A
	// longer one, up to the 2^31-3 bytes memcached reads at most, is
	// skipped as it arrives, never held, and its command returned with
	// TooLarge set; a larger byte count is a fatal error. If zero, 1 MiB.
	MaxValue int
	// MaxKeys is the most keys one Command holds. A get, gets, gat or
	// gats with more is returned in batches of MaxKeys keys, each but the
	// last with More set, so that the reader's key slices stay this small
	// however long the line. If zero, 1024.
	MaxKeys int
}

// MaxKeyLen is the longest key memcached accepts, in bytes.
const MaxKeyLen = 250

// maxBlock is the longest data block memcached reads: its byte count is a
// C int that must leave room for the CRLF.
const maxBlock = math.MaxInt32 - 2

// A CommandError is a command the reader refused. Reply is memcached's
// reply to it, such as "ERROR" or "CLIENT_ERROR bad command line format".
type CommandError struct {
	Reply string
	// NoReply is set when the command asked for no reply: memcached then
	// sends none, not even an error.
	NoReply bool
	// Fatal means the stream can no longer be followed (a data block
	// that does not end where its byte count says, a line too long, a byte
	// count no server would read): reply and close the connection. Every
	// later Read returns the same error. Without Fatal the reader has
	// consumed the command, data block included, and goes on.
	Fatal bool
}

func (e *CommandError) Error() string { return "memcache: " + e.Reply }

// Replies to commands the reader refuses, as memcached 1.6 words them. The
// last is for a limit memcached does not have (it closes a connection whose
// line is too long without a word).
const (
	replyError       = "ERROR"
	replyBadFormat   = "CLIENT_ERROR bad command line format"
	replyBadExptime  = "CLIENT_ERROR invalid exptime argument"
	replyBadDelta    = "CLIENT_ERROR invalid numeric delta argument"
	replyDeleteUsage = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
	replyBadChunk    = "CLIENT_ERROR bad data chunk"
	replyLineTooLong = "CLIENT_ERROR line too long"
)

// Reader reads commands from a connection. It reads as much as the
// connection has ready into one buffer and parses commands out of it, so a
// pipelined batch costs one read; BeforeRead, or Buffered, tells the server
// when the batch is done and replies should be flushed.
type Reader struct {
	rd  io.Reader
	lim Limits
	// BeforeRead, if set, runs before every read from the connection, that
	// is whenever no complete command is buffered: the moment a server
	// must flush its replies before it waits for more input. It may call
	// Shrink.
	BeforeRead func() error
	// AfterRead, if set, runs after every read from the connection that
	// brought input, before it is parsed: the moment to look at a batch
	// of commands as a whole (Ahead).
	AfterRead func()

	buf  []byte
	r, w int // unread data is buf[r:w]

	cmd  Command   // the command returned last, or being completed
	toks [][2]int  // tokens of the current line, relative to r
	keys [][]byte  // backing array of cmd.Keys and cmd.Args
	key  []byte    // a copy of the key of a command whose block is skipped
	err  error     // stSkip: the error the command ends in, if any
	ferr error     // the fatal error met, returned from then on
	st   readState // what the reader is in the middle of
	scan int       // stLine: bytes at r known not to hold the line's LF
	line int       // stBlock, stKeys: bytes of the line, line end included
	text int       // stKeys: bytes of the line, line end excluded
	next int       // stKeys: where the next batch's keys start, relative to r
	need int       // stBlock: bytes of the block, without its CRLF
	skip int       // stSkip: bytes left to discard, CRLF included
	tail [2]byte   // stSkip: the last two bytes of the block
}

type readState uint8

const (
	stLine  readState = iota // between commands, or reading a line
	stBlock                  // the line is parsed; its data block is awaited
	stSkip                   // a block is being discarded
	stKeys                   // a retrieval line has more keys to return
)

// NewReader returns a reader of commands from rd.
func NewReader(rd io.Reader, lim Limits) *Reader {
	if lim.MaxLine <= 0 {
		lim.MaxLine = 64 << 10
	}
	if lim.MaxKeysLine <= 0 {
		lim.MaxKeysLine = 2 << 20
	}
	lim.MaxKeysLine = max(lim.MaxKeysLine, lim.MaxLine)
	if lim.MaxValue <= 0 {
		lim.MaxValue = 1 << 20
	}
	lim.MaxValue = min(lim.MaxValue, maxBlock)
	if lim.MaxKeys <= 0 {
		lim.MaxKeys = 1024
	}
	return &Reader{rd: rd, lim: lim, buf: make([]byte, initialBuf)}
}

// initialBuf is the buffer a connection starts with, and keeps when idle.
const initialBuf = 16 << 10

// Buffered returns the number of bytes read from the connection and not yet
// parsed. When it is zero, the batch the client sent is done.
func (r *Reader) Buffered() int { return r.w - r.r }

// Read returns the next command, reading from the connection only when no
// complete command is buffered. The command and the slices in it alias the
// reader's memory: they are valid until the next call. A get, gets, gat or
// gats of more than MaxKeys keys is returned in batches (Command.More).
//
// A *CommandError is a command refused with memcached's reply (see its
// Fatal field); other errors come from the connection: io.EOF when the client
// closed it between commands, io.ErrUnexpectedEOF in the middle of one. After
// an error from the connection, a deadline say, a later call goes on with the
// command in progress.
func (r *Reader) Read() (*Command, error) {
	if r.ferr != nil {
		return nil, r.ferr
	}
	for {
		done, err := r.step()
		if err != nil {
			if ce, ok := err.(*CommandError); ok && ce.Fatal {
				r.ferr = err
			}
			return nil, err
		}
		if done {
			return &r.cmd, nil
		}
		if err := r.fill(); err != nil {
			if errors.Is(err, io.EOF) && (r.st != stLine || r.w > r.r) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// step advances the command in progress with what is buffered. It reports
// done with a command ready in r.cmd, or an error, or neither when it needs
// more input.
func (r *Reader) step() (done bool, err error) {
	switch r.st {
	case stBlock:
		return r.block()
	case stSkip:
		return r.skipBlock()
	case stKeys:
		return r.nextKeys()
	}
	nl, err := r.lineEnd()
	if err != nil || nl < 0 {
		return false, err
	}
	line := r.buf[r.r:nl]
	next := nl + 1
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if len(line) > r.lim.MaxLine && (len(line) > r.lim.MaxKeysLine || !r.mayBeLong(line)) {
		return false, &CommandError{Reply: replyLineTooLong, Fatal: true}
	}
	// No more tokens than any command takes, and one more to tell that
	// there were more: gat exptime keys...; cas with noreply.
	r.tokenize(line, 0, max(r.lim.MaxKeys+3, 8))
	r.line, r.text = next-r.r, len(line)
	return r.parse()
}

// lineEnd returns the index of the LF that ends the line at r.r, or -1 if it
// has not arrived yet. Only the first MaxLine+2 bytes are searched unless
// they begin a line that may be longer (mayBeLong), and then only the first
// MaxKeysLine+2: a line that long without its end is an error however it
// arrives. Bytes searched once are not searched again when more arrive.
func (r *Reader) lineEnd() (int, error) {
	avail := r.buf[r.r:r.w]
	short := r.lim.MaxLine + 2
	bound := short
	if r.scan >= short {
		bound = r.lim.MaxKeysLine + 2 // the line was found to be a retrieval
	}
	for {
		end := min(len(avail), bound)
		if i := bytes.IndexByte(avail[r.scan:end], '\n'); i >= 0 {
			nl := r.r + r.scan + i
			r.scan = 0
			return nl, nil
		}
		r.scan = end
		switch {
		case end < bound:
			return -1, nil
		case bound == short && bound < r.lim.MaxKeysLine+2 && r.mayBeLong(avail):
			bound = r.lim.MaxKeysLine + 2
		default:
			return 0, &CommandError{Reply: replyLineTooLong, Fatal: true}
		}
	}
}

// mayBeLong reports whether line, which has more than MaxLine bytes, is a
// get, gets, gat or gats, which may have up to MaxKeysLine. Only the first
// MaxLine+1 bytes count, so that the answer is the same whether the line's
// end has arrived or not.
func (r *Reader) mayBeLong(line []byte) bool {
	line = line[:min(len(line), r.lim.MaxLine+1)]
	line = bytes.TrimLeft(line, " ")
	i := bytes.IndexByte(line, ' ')
	return i >= 0 && lookupOp(line[:i]).isRetrieval()
}

// tokenize splits line[from:] at spaces, as memcached does: runs of spaces
// count as one, and other white space belongs to the tokens. It keeps at
// most most tokens, their offsets relative to r.r as line starts there.
func (r *Reader) tokenize(line []byte, from, most int) {
	r.toks = r.toks[:0]
	for i := from; i < len(line) && len(r.toks) < most; {
		if line[i] == ' ' {
			i++
			continue
		}
		j := bytes.IndexByte(line[i:], ' ')
		if j < 0 {
			j = len(line) - i
		}
		r.toks = append(r.toks, [2]int{i, i + j})
		i += j
	}
}

// tok returns token i of the current line.
func (r *Reader) tok(i int) []byte { return r.span(r.toks[i]) }

// span returns the bytes of the current line from t[0] to t[1].
func (r *Reader) span(t [2]int) []byte {
	return r.buf[r.r+t[0] : r.r+t[1] : r.r+t[1]]
}

// consume ends the current line (and, from stBlock, its block).
func (r *Reader) consume(n int) {
	r.r += n
	r.st = stLine
}

// fill reads more data, making room first: parsed bytes are dropped, and
// the buffer grows, up to what the limits need, if the command in progress
// fills it.
func (r *Reader) fill() error {
	// BeforeRead first: it may Shrink the buffer, which must not undo the
	// room made below.
	if r.BeforeRead != nil {
		if err := r.BeforeRead(); err != nil {
			return err
		}
	}
	var err error
	r.buf, r.r, r.w, err = inbuf.Fill(r.rd, r.buf, r.r, r.w, r.bufLimit())
	if errors.Is(err, inbuf.ErrFull) {
		return errors.New("memcache: buffer full") // step decides before this; a backstop
	}
	if err == nil && r.AfterRead != nil {
		r.AfterRead()
	}
	return err
}

// bufLimit is the most the buffer ever holds: the longest line, as lineEnd
// searches it, or a storage line and the largest block with its CRLF. A
// skipped block is discarded as it comes and needs no room.
func (r *Reader) bufLimit() int {
	return max(r.lim.MaxKeysLine+2, r.lim.MaxLine+2+r.lim.MaxValue+2)
}

// Shrink gives back a buffer that grew for a large command, once it is no
// longer needed, so that an idle connection holds only a small one. Call
// it between commands: when it gives the buffer back, the Command that
// Read returned last is cleared, so that the reader keeps nothing of the
// old buffer alive; slices taken from the command before stay valid.
func (r *Reader) Shrink() {
	if r.st == stBlock {
		return
	}
	old := r.buf
	r.buf, r.r, r.w = inbuf.Shrink(r.buf, r.r, r.w, initialBuf)
	if len(r.buf) != len(old) {
		// The last command's slices point into the old buffer: drop
		// them, or they would keep it alive.
		r.keys = nil
		r.cmd = Command{}
	}
	if cap(r.toks) > maxKeptKeys {
		r.toks = nil
	}
	if cap(r.keys) > maxKeptKeys {
		r.keys = nil
	}
}

// maxKeptKeys is the most key slots Shrink keeps for the next command.
const maxKeptKeys = 64
