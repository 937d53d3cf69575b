package wire

import (
	"bytes"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// DefaultMaxEventBytes is the limit applied when MaxEventBytes is 0.
const DefaultMaxEventBytes = 32 << 20

// Event is one event dispatched by an EventParser or EventDecoder.
type Event struct {
	// Type is the value of the event's "event" field, or "message".
	Type string
	// Data holds the event's data lines joined with LF, as valid UTF-8.
	// It is only valid until the next call to Next, or until emit returns.
	Data []byte
	// ID is the last event ID when the event was dispatched: the value of
	// the latest "id" field so far, whether or not this event had one, as
	// in EventSource's lastEventId.
	ID string
}

// lineState says what the EventParser is reading in the current line.
type lineState uint8

const (
	lineStart lineState = iota // nothing yet
	lineName                   // a field name, into EventParser.name
	lineData                   // a data value, into EventParser.data
	lineValue                  // an event, id or retry value, into EventParser.val
	lineSkip                   // a comment or an unknown field
)

// maxKept is the size above which an EventParser drops a buffer that is
// more than four times what the last event needed from it.
const maxKept = 1 << 20

var bom = []byte("\xEF\xBB\xBF")

// EventParser interprets an event stream pushed to it in chunks of any
// size, following the WHATWG HTML event-stream rules. The zero value is
// ready to use. It is not safe for concurrent use.
type EventParser struct {
	// MaxEventBytes limits an event's data, and the value of an id or event
	// field, in bytes. Zero means DefaultMaxEventBytes.
	MaxEventBytes int

	err    error
	bom    int  // bytes of a leading BOM matched so far; -1 once past it
	skipLF bool // the last line ended in CR, so an LF next is part of it
	state  lineState
	space  bool    // a leading space of the value is still to be stripped
	name   [5]byte // the field name so far; no known name is longer
	nlen   int     // bytes in name
	field  byte    // the field of a lineValue: 'e', 'i' or 'r'
	vstart int     // where the current data line starts in data

	data, val, scratch []byte
	typ, lastType      string // event type buffer; a copy kept for reuse
	idBuf, lastID      string // last event ID buffer and string
	retry              time.Duration
	hasRetry           bool
}

// Feed parses the next chunk of the stream and calls emit for each event
// it completes; the event's Data is only valid until emit returns. After
// ErrEventTooLarge the EventParser is stuck: Feed returns that error
// again. When the stream ends, an unfinished event is simply never
// emitted.
func (p *EventParser) Feed(b []byte, emit func(Event)) error {
	for len(b) > 0 {
		n, ev, ok, err := p.next(b)
		if err != nil {
			return err
		}
		if ok {
			emit(ev)
		}
		b = b[n:]
	}
	return p.err
}

// LastEventID returns the last event ID as of the latest blank line: what
// a client sends as Last-Event-ID when it reconnects.
func (p *EventParser) LastEventID() string { return p.lastID }

// Retry returns the reconnection time set by the latest valid "retry"
// field, and whether there was one. A value that is empty, holds anything
// but ASCII digits or overflows a time.Duration is ignored.
func (p *EventParser) Retry() (time.Duration, bool) { return p.retry, p.hasRetry }

// next consumes b up to and including the line that completes an event,
// or all of it, and returns the number of bytes used.
func (p *EventParser) next(b []byte) (n int, ev Event, ok bool, err error) {
	if p.err != nil {
		return 0, Event{}, false, p.err
	}
	if p.bom >= 0 {
		if n = p.skipBOM(b); p.bom >= 0 {
			return n, Event{}, false, nil
		}
	}
	for n < len(b) && !ok && err == nil {
		rest := b[n:]
		if p.skipLF {
			p.skipLF = false
			if rest[0] == '\n' {
				n++
				continue
			}
		}
		i := lineEnd(rest)
		if i < 0 {
			return len(b), Event{}, false, p.fail(p.text(rest))
		}
		if err = p.text(rest[:i]); err == nil {
			p.skipLF = rest[i] == '\r'
			ev, ok, err = p.endLine()
		}
		n += i + 1
	}
	return n, ev, ok, p.fail(err)
}

func (p *EventParser) fail(err error) error {
	if err != nil {
		p.err = err
	}
	return err
}

// skipBOM consumes the part of b that continues a leading byte order
// mark. If the stream turns out not to start with one, the bytes matched
// so far are parsed as text.
func (p *EventParser) skipBOM(b []byte) int {
	n := 0
	for n < len(b) && p.bom < len(bom) && b[n] == bom[p.bom] {
		n++
		p.bom++
	}
	switch {
	case p.bom == len(bom):
		p.bom = -1
	case n < len(b):
		_ = p.text(bom[:p.bom]) // two bytes at most: within any limit
		p.bom = -1
	}
	return n
}

func (p *EventParser) limit() int {
	if p.MaxEventBytes > 0 {
		return p.MaxEventBytes
	}
	return DefaultMaxEventBytes
}

// text parses b, the next part of the current line, without its line end.
func (p *EventParser) text(b []byte) error {
	for len(b) > 0 {
		switch p.state {
		case lineStart:
			if b[0] == ':' {
				p.state = lineSkip
				return nil
			}
			p.state = lineName
		case lineName:
			c := bytes.IndexByte(b, ':')
			if c < 0 {
				p.addName(b)
				return nil
			}
			if p.addName(b[:c]); p.state == lineName {
				p.startValue()
			}
			b = b[c+1:]
		case lineData:
			b = p.stripSpace(b)
			if len(p.data)+len(b) > p.limit() {
				return ErrEventTooLarge
			}
			p.data = append(p.data, b...)
			return nil
		case lineValue:
			b = p.stripSpace(b)
			if len(p.val)+len(b) > p.limit() {
				return ErrEventTooLarge
			}
			p.val = append(p.val, b...)
			return nil
		default:
			return nil
		}
	}
	return nil
}

// addName adds b to the field name. A name longer than any known field
// makes the line one to ignore.
func (p *EventParser) addName(b []byte) {
	if p.nlen+len(b) > len(p.name) {
		p.state = lineSkip
		return
	}
	p.nlen += copy(p.name[p.nlen:], b)
}

// startValue begins the value of the field named in p.name.
func (p *EventParser) startValue() {
	p.space = true
	switch string(p.name[:p.nlen]) {
	case "data":
		p.state, p.vstart = lineData, len(p.data)
	case "event", "id", "retry":
		p.state, p.field, p.val = lineValue, p.name[0], p.val[:0]
	default:
		p.state = lineSkip
	}
}

func (p *EventParser) stripSpace(b []byte) []byte {
	if p.space {
		p.space = false
		if b[0] == ' ' {
			return b[1:]
		}
	}
	return b
}

// endLine finishes the current line. A blank line dispatches the event.
func (p *EventParser) endLine() (ev Event, ok bool, err error) {
	if p.state == lineName { // a line without a colon: the value is empty
		p.startValue()
	}
	switch p.state {
	case lineStart:
		ev, ok = p.dispatch()
	case lineData:
		err = p.endData()
	case lineValue:
		p.endValue()
	}
	p.state, p.nlen = lineStart, 0
	return ev, ok, err
}

// endData decodes the data line just read and appends the LF after it.
func (p *EventParser) endData() error {
	if v := p.data[p.vstart:]; !utf8.Valid(v) {
		p.scratch = appendUTF8(p.scratch[:0], v)
		p.data = append(p.data[:p.vstart], p.scratch...)
		p.scratch = trim(p.scratch, len(p.scratch))
	}
	if len(p.data) > p.limit() {
		return ErrEventTooLarge
	}
	p.data = append(p.data, '\n')
	return nil
}

// endValue applies the event, id or retry field just read.
func (p *EventParser) endValue() {
	v := p.val
	switch p.field {
	case 'e':
		if string(v) != p.lastType {
			p.lastType = decodeString(v)
		}
		p.typ = p.lastType
	case 'i':
		if bytes.IndexByte(v, 0) < 0 && string(v) != p.idBuf {
			p.idBuf = decodeString(v)
		}
	case 'r':
		if d, ok := parseRetry(v); ok {
			p.retry, p.hasRetry = d, true
		}
	}
	p.val = trim(p.val, len(v))
}

// dispatch ends the event at a blank line; it has no data if ok is false.
func (p *EventParser) dispatch() (ev Event, ok bool) {
	p.lastID = p.idBuf
	typ := p.typ
	p.typ = ""
	if len(p.data) == 0 {
		return Event{}, false
	}
	if typ == "" {
		typ = "message"
	}
	n := len(p.data) - 1 // drop the last LF
	ev = Event{Type: typ, Data: p.data[:n:n], ID: p.lastID}
	p.data = trim(p.data, n)
	return ev, true
}

// trim empties b for reuse, or drops it if it has grown large and only
// used bytes of it were needed.
func trim(b []byte, used int) []byte {
	if cap(b) > maxKept && cap(b) > 4*used {
		return nil
	}
	return b[:0]
}

func parseRetry(v []byte) (time.Duration, bool) {
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for _, c := range v {
		d := int64(c - '0')
		if c < '0' || c > '9' || ms > (maxMs-d)/10 {
			return 0, false
		}
		ms = ms*10 + d
	}
	return time.Duration(ms) * time.Millisecond, len(v) > 0
}

// decodeString returns b as a string, with invalid UTF-8 replaced.
func decodeString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(appendUTF8(nil, b))
}

// appendUTF8 appends b to dst, replacing each maximal invalid subpart with
// U+FFFD as the WHATWG Encoding standard's UTF-8 decoder does (which
// differs from utf8.DecodeRune's byte-at-a-time replacement).
func appendUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			n = invalidLen(b)
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

// invalidLen returns the length of the invalid sequence at the start of b:
// its lead byte and the continuation bytes that could still have made it
// valid.
func invalidLen(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	need := 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}

// readSize is the size of an EventDecoder's read buffer.
const readSize = 32 << 10

// EventDecoder reads events from an event stream, as EventParser does. It
// reads in chunks of up to 32 KiB, so it may read past the event it
// returns. It is not safe for concurrent use.
type EventDecoder struct {
	// MaxEventBytes limits an event's data, and the value of an id or event
	// field, in bytes. Zero means DefaultMaxEventBytes.
	MaxEventBytes int

	r          io.Reader
	p          EventParser
	buf        []byte
	start, end int   // the unparsed bytes in buf
	rerr       error // from the last Read, returned once buf is parsed
}

// NewEventDecoder returns an EventDecoder that reads from r.
func NewEventDecoder(r io.Reader) *EventDecoder {
	return &EventDecoder{r: r}
}

// Reset makes d read a new stream from r, as a new EventDecoder would, but
// keeping its buffers: a client that opens one request after another (a
// long-poll) then allocates nothing per request.
func (d *EventDecoder) Reset(r io.Reader) {
	p := &d.p
	data, val, scratch := p.data[:0], p.val[:0], p.scratch[:0]
	*p = EventParser{data: data, val: val, scratch: scratch}
	d.r, d.start, d.end, d.rerr = r, 0, 0, nil
}

// Next returns the next event. At the end of the stream it returns io.EOF
// and drops an unfinished event. It returns the reader's other errors, or
// ErrEventTooLarge, and then the same error on every later call. The
// event's Data is only valid until the next call.
func (d *EventDecoder) Next() (Event, error) {
	d.p.MaxEventBytes = d.MaxEventBytes
	for empty := 0; ; {
		for d.start < d.end {
			n, ev, ok, err := d.p.next(d.buf[d.start:d.end])
			d.start += n
			if err != nil || ok {
				return ev, err
			}
		}
		if d.p.err != nil {
			return Event{}, d.p.err
		}
		if d.rerr != nil {
			return Event{}, d.rerr
		}
		if d.buf == nil {
			d.buf = make([]byte, readSize)
		}
		n, err := d.r.Read(d.buf)
		d.start, d.end, d.rerr = 0, n, err
		if n == 0 && err == nil {
			if empty++; empty == 100 {
				d.rerr = io.ErrNoProgress
			}
		}
	}
}

// LastEventID is as EventParser.LastEventID.
func (d *EventDecoder) LastEventID() string { return d.p.LastEventID() }

// Retry is as EventParser.Retry.
func (d *EventDecoder) Retry() (time.Duration, bool) { return d.p.Retry() }
