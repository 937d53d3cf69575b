package wire

import (
	"bytes"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendEvent appends an event with the given data to dst: an "id" line
// unless id is 0, one "data" line per line of data, and the blank line
// that dispatches the event. It does not allocate when dst has room.
//
// Data is normally one frame in text form (AppendFrame, Frame.AppendText),
// which holds no CR or LF, and then becomes a single data line that any
// event-stream parser returns byte for byte. Other data is still written
// safely: it is split into data lines at CRLF, CR and LF, which a parser
// joins again with LF, so CR and CRLF read back as LF. A parser also
// replaces invalid UTF-8 with U+FFFD. ValidEventData reports whether data
// avoids both losses.
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

// ValidEventData reports whether data reads back unchanged after
// AppendEvent: it is valid UTF-8 and holds no CR. (An LF is kept: it
// separates two data lines.)
func ValidEventData(data []byte) bool {
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

// PreludeBytes is the size of the comment that opens every stream
// (PROTOCOL.md §5.1), so that buffering intermediaries and old XHR
// implementations release data.
const PreludeBytes = 2048

var prelude = makePrelude(PreludeBytes)

// Prelude returns a comment of a colon and n spaces followed by a blank
// line: the padding that opens a stream so that buffering intermediaries
// and old XHR implementations release data at once. The result for
// PreludeBytes is shared and must not be modified.
func Prelude(n int) []byte {
	if n == PreludeBytes {
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

// AppendBatchEvent appends a batch as one event (PROTOCOL.md §5.1): a data
// line per frame, and the number of the last frame as the event id; an
// empty batch is a heartbeat. Long-poll bodies use the same syntax. One
// event instead of one per frame saves an id line per frame on the wire
// and a message event per frame in the browser. The batch's Ack and Skip
// are not sent: acknowledgements of upstream frames travel in POST
// answers, and an event stream numbers every frame.
func AppendBatchEvent(dst []byte, b Batch) []byte {
	if len(b.Frames) == 0 {
		return AppendEvent(dst, 0, []byte{KindHeartbeat})
	}
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, b.Frames[len(b.Frames)-1].Seq, 10)
	for i := range b.Frames {
		dst = append(dst, "\ndata: "...)
		dst = b.Frames[i].AppendText(dst)
	}
	return append(dst, '\n', '\n')
}
