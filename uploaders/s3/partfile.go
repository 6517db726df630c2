package s3

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// partFile is one part of the segment read through a file handle of its own, so that the
// HTTP transport can hand it to the kernel: net's TCP ReadFrom sends from a syscall.Conn
// with sendfile(2), from the handle's position, without copying through user space
// (pkg/s3upload passes it through as such). Read and Seek keep to the part's bytes;
// positions are relative to its start.
type partFile struct {
	f         *os.File
	off, size int64
}

var (
	_ io.ReadSeeker     = (*partFile)(nil)
	_ syscall.Conn      = (*partFile)(nil)
	_ io.ReadSeekCloser = (*partFile)(nil)
)

// openPart opens path for the size bytes at off.
func openPart(path string, off, size int64) (*partFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	p := &partFile{f: f, off: off, size: size}
	if _, err := p.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// SyscallConn lets net send the file's bytes with sendfile(2); the transport bounds it to
// the request's Content-Length.
func (p *partFile) SyscallConn() (syscall.RawConn, error) { return p.f.SyscallConn() }

// remaining is how many of the part's bytes lie after the handle's position (sendfile moves
// it without Read).
func (p *partFile) remaining() (int64, error) {
	pos, err := p.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	return p.off + p.size - pos, nil
}

func (p *partFile) Read(b []byte) (int, error) {
	left, err := p.remaining()
	if err != nil {
		return 0, err
	}
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > left {
		b = b[:left]
	}
	return p.f.Read(b)
}

func (p *partFile) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = p.off + offset
	case io.SeekCurrent:
		pos, err := p.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		abs = pos + offset
	case io.SeekEnd:
		abs = p.off + p.size + offset
	default:
		return 0, errors.New("s3: part: bad whence")
	}
	if abs < p.off {
		return 0, errors.New("s3: part: seek before its start")
	}
	pos, err := p.f.Seek(abs, io.SeekStart)
	return pos - p.off, err
}

// Close closes the handle.
func (p *partFile) Close() error { return p.f.Close() }
