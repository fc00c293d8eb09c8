package disk

import "os"

// writeZeros writes n zero bytes to f at off.
func writeZeros(f *os.File, off, n int64) error {
	zeros := make([]byte, min(n, 1<<16))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:k], off); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}
