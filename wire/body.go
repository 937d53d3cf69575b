package wire

import (
	"bufio"
	"bytes"
	"io"
)

// BodyReader parses an upstream body (PROTOCOL.md §5.2) one frame at a
// time, so that a large batch is delivered as it arrives instead of being
// held whole, and counts its frames against a limit. It is not safe for
// concurrent use.
type BodyReader struct {
	br        *bufio.Reader
	long      []byte // a line longer than br's buffer, assembled
	frames    int
	maxFrames int // 0: no limit
}

// NewBodyReader returns a BodyReader that reads r and fails with
// ErrTooManyFrames on frame maxFrames+1 (0: no limit).
func NewBodyReader(r io.Reader, maxFrames int) *BodyReader {
	return &BodyReader{br: bufio.NewReaderSize(r, 16<<10), maxFrames: maxFrames}
}

// Empty reports whether the body has no bytes at all, or the error
// reading its first byte.
func (b *BodyReader) Empty() (bool, error) {
	_, err := b.br.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// Next returns the next frame; at the end of the body, false and nil; on
// a bad frame or a failed read, false and the error (ErrBadFrame,
// bytesocket.ErrInvalidUTF8, ErrTooManyFrames or the reader's). A server
// hands Next to emulation.Channel.DeliverEach, so a body is delivered as it
// is read.
func (b *BodyReader) Next() (Frame, bool, error) {
	line, err := b.readLine()
	if err == io.EOF && line == nil {
		return Frame{}, false, nil
	}
	if err != nil && err != io.EOF {
		return Frame{}, false, err
	}
	if b.frames++; b.maxFrames > 0 && b.frames > b.maxFrames {
		return Frame{}, false, ErrTooManyFrames
	}
	f, err := ParseSequenced(line)
	if err != nil {
		return Frame{}, false, err
	}
	return f, true, nil
}

// readLine returns the next line without its LF, valid until the next
// call; nil and io.EOF at the end of the body. A last line without LF
// comes with io.EOF.
func (b *BodyReader) readLine() ([]byte, error) {
	b.long = b.long[:0]
	for {
		part, err := b.br.ReadSlice('\n')
		switch err {
		case nil:
			part = part[:len(part)-1]
		case bufio.ErrBufferFull:
			b.long = append(b.long, part...)
			continue
		case io.EOF:
			if len(part) == 0 && len(b.long) == 0 {
				return nil, io.EOF
			}
		default:
			return nil, err
		}
		if len(b.long) > 0 {
			b.long = append(b.long, part...)
			part = b.long
			if cap(b.long) > 64<<10 {
				b.long = nil // don't keep a big line's buffer
			}
		}
		if part == nil {
			part = []byte{}
		}
		return part, err
	}
}

// ParseBody splits an upstream body into frames (PROTOCOL.md §5.2), with
// the parser the server uses. On a bad frame it returns the frames before
// it and the error.
func ParseBody(body []byte) ([]Frame, error) {
	b := NewBodyReader(bytes.NewReader(body), 0)
	var frames []Frame
	for {
		f, ok, err := b.Next()
		if !ok {
			return frames, err
		}
		frames = append(frames, f)
	}
}
