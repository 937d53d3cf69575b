package sse

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendEvent appends an event with the given data to dst: an "id" line
// unless id is 0, one "data" line per line of data, and the blank line
// that dispatches the event. It does not allocate when dst has room.
//
// Data is normally one frame of the bytesocket text codec, which holds no
// CR or LF, and then becomes a single data line that any event-stream
// parser returns byte for byte. Other data is still written safely: it is
// split into data lines at CRLF, CR and LF, which a parser joins again
// with LF, so CR and CRLF read back as LF. A parser also replaces invalid
// UTF-8 with U+FFFD. ValidData reports whether data avoids both losses.
func AppendEvent(dst []byte, id uint64, data []byte) []byte {
	dst = slices.Grow(dst, len(data)+len("id: 18446744073709551615\ndata: \n\n"))
	if id != 0 {
		dst = append(dst, "id: "...)
		dst = strconv.AppendUint(dst, id, 10)
		dst = append(dst, '\n')
	}
	dst = appendLines(dst, "data: ", data)
	return append(dst, '\n')
}

// ValidData reports whether data reads back unchanged after AppendEvent:
// it is valid UTF-8 and holds no CR. (An LF is kept: it separates two data
// lines.)
func ValidData(data []byte) bool {
	return bytes.IndexByte(data, '\r') < 0 && utf8.Valid(data)
}

// AppendComment appends text as a comment, which parsers ignore; a text
// with line breaks becomes several comment lines. Comments do not end an
// event.
func AppendComment(dst []byte, text string) []byte {
	return appendLines(dst, ": ", []byte(text))
}

// AppendRetry appends a "retry" field, which sets the time a client waits
// before reconnecting, in whole milliseconds. Like any field it belongs to
// the event written after it, but takes effect even if that event has no
// data. A negative d is written as 0.
func AppendRetry(dst []byte, d time.Duration) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, max(d.Milliseconds(), 0), 10)
	return append(dst, '\n')
}

// preludeCached is the prelude size PROTOCOL.md §5.1 asks for.
const preludeCached = 2048

var prelude = makePrelude(preludeCached)

// Prelude returns a comment of a colon and n spaces followed by a blank
// line: the padding that opens a stream so that buffering intermediaries
// and old XHR implementations release data at once. The result for 2048
// is shared and must not be modified.
func Prelude(n int) []byte {
	if n == preludeCached {
		return prelude
	}
	return makePrelude(max(n, 0))
}

func makePrelude(n int) []byte {
	b := make([]byte, n+3)
	b[0] = ':'
	for i := 1; i <= n; i++ {
		b[i] = ' '
	}
	b[n+1], b[n+2] = '\n', '\n'
	return b
}

// appendLines appends one line of prefix and text for each line of text,
// splitting it at CRLF, CR and LF.
func appendLines(dst []byte, prefix string, text []byte) []byte {
	for {
		i := lineEnd(text)
		if i < 0 {
			break
		}
		dst = append(dst, prefix...)
		dst = append(dst, text[:i]...)
		dst = append(dst, '\n')
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
	dst = append(dst, prefix...)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// lineEnd returns the index of the first CR or LF in b, or -1. It searches
// windows that double in size, so that a run of CR-terminated lines before
// the next LF costs linear time, not quadratic.
func lineEnd(b []byte) int {
	for off, n := 0, 64; off < len(b); off, n = off+n, n*2 {
		w := b[off:min(off+n, len(b))]
		lf := bytes.IndexByte(w, '\n')
		if lf >= 0 {
			w = w[:lf]
		}
		if cr := bytes.IndexByte(w, '\r'); cr >= 0 {
			return off + cr
		}
		if lf >= 0 {
			return off + lf
		}
	}
	return -1
}

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

// WriteEvent writes an event as AppendEvent does.
func (e *Encoder) WriteEvent(id uint64, data []byte) error {
	return e.write(AppendEvent(e.buf[:0], id, data))
}

// WriteComment writes a comment as AppendComment does.
func (e *Encoder) WriteComment(text string) error {
	return e.write(AppendComment(e.buf[:0], text))
}

// WriteRetry writes a retry field as AppendRetry does.
func (e *Encoder) WriteRetry(d time.Duration) error {
	return e.write(AppendRetry(e.buf[:0], d))
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
