package inbuf

import "io"

// ChunkReader returns its data in reads of the sizes Next chooses, as a
// connection returns whatever has arrived: the protocol readers' tests and
// fuzz targets feed input through it. A size of 0, or more than is left,
// means all that is left.
type ChunkReader struct {
	Data []byte
	Next func() int
	// Reads counts the calls to Read.
	Reads int
}

// Read implements io.Reader.
func (c *ChunkReader) Read(p []byte) (int, error) {
	c.Reads++
	if len(c.Data) == 0 {
		return 0, io.EOF
	}
	n := c.Next()
	if n <= 0 || n > len(c.Data) {
		n = len(c.Data)
	}
	n = copy(p, c.Data[:n])
	c.Data = c.Data[n:]
	return n, nil
}

// Cycle returns a ChunkReader of data whose reads take the sizes in sizes
// in turn, over and over (none: all of it at once), as a fuzz target
// chooses them.
func Cycle(data, sizes []byte) *ChunkReader {
	i := 0
	return &ChunkReader{Data: data, Next: func() int {
		if len(sizes) == 0 {
			return 0
		}
		i++
		return int(sizes[(i-1)%len(sizes)])
	}}
}
