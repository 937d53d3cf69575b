package sse

import (
	"io"
	"time"

	"github.com/ferrygw/ferry/wire"
)

// maxRetained is the largest buffer an Encoder keeps between writes.
const maxRetained = 64 << 10

// Encoder writes events to an io.Writer, one Write call per method call,
// reusing one buffer. It is not safe for concurrent use.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
}

// WriteEvent writes an event as wire.AppendEvent does.
func (e *Encoder) WriteEvent(id uint64, data []byte) error {
	return e.write(wire.AppendEvent(e.buf[:0], id, data))
}

// WriteComment writes a comment as wire.AppendComment does.
func (e *Encoder) WriteComment(text string) error {
	return e.write(wire.AppendComment(e.buf[:0], text))
}

// WriteRetry writes a retry field as wire.AppendRetry does.
func (e *Encoder) WriteRetry(d time.Duration) error {
	return e.write(wire.AppendRetry(e.buf[:0], d))
}

func (e *Encoder) write(p []byte) error {
	_, err := e.w.Write(p)
	if cap(p) <= maxRetained {
		e.buf = p[:0]
	} else {
		e.buf = nil
	}
	return err
}
