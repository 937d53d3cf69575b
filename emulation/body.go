package emulation

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// bodyReader parses an upstream body (PROTOCOL.md §5.2) one frame at a
// time, so that a large batch is delivered as it arrives instead of being
// held whole, and counts its frames against a limit.
type bodyReader struct {
	br        *bufio.Reader
	long      []byte // a line longer than br's buffer, assembled
	frames    int
	maxFrames int // 0: no limit
}

func newBodyReader(r io.Reader, maxFrames int) *bodyReader {
	return &bodyReader{br: bufio.NewReaderSize(r, 16<<10), maxFrames: maxFrames}
}

// empty reports whether the body has no bytes at all, or the error
// reading its first byte.
func (b *bodyReader) empty() (bool, error) {
	_, err := b.br.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// next returns the next frame; at the end of the body, false and nil; on a
// bad frame or a failed read, false and the error.
func (b *bodyReader) next() (Frame, bool, error) {
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
func (b *bodyReader) readLine() ([]byte, error) {
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
	b := newBodyReader(bytes.NewReader(body), 0)
	var frames []Frame
	for {
		f, ok, err := b.next()
		if !ok {
			return frames, err
		}
		frames = append(frames, f)
	}
}

// timedBody reads a request body within a time budget: only the time
// spent waiting for the client's bytes counts, not the time the reader
// spends between reads (delivery waiting for the application). A stalled
// or trickling upload fails when the budget is spent. It needs a
// connection-level read deadline (http.ResponseController); where there is
// none, it reads without one.
type timedBody struct {
	r      io.Reader
	rc     *http.ResponseController
	budget time.Duration
}

func (t *timedBody) Read(p []byte) (int, error) {
	if t.budget <= 0 {
		return 0, ErrUploadTimeout
	}
	start := time.Now()
	_ = t.rc.SetReadDeadline(start.Add(t.budget))
	n, err := t.r.Read(p)
	t.budget -= time.Since(start)
	if err != nil && (t.budget <= 0 || errors.Is(err, os.ErrDeadlineExceeded)) {
		t.budget = 0
		err = ErrUploadTimeout
	}
	return n, err
}

// done clears the read deadline for the connection's next request, unless
// the upload timed out: then the deadline stays passed, so that net/http
// does not wait for the rest of the body before closing the connection.
func (t *timedBody) done() {
	if t.budget > 0 {
		_ = t.rc.SetReadDeadline(time.Time{})
	}
}
