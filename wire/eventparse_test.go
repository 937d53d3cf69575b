package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// stream is what a parser made of an input: its events and final state.
type stream struct {
	events   []Event
	lastID   string
	retry    time.Duration
	hasRetry bool
	err      error
}

// String formats s for comparison and for readable failures.
func (s stream) String() string {
	var b strings.Builder
	for _, ev := range s.events {
		fmt.Fprintf(&b, "{type=%q id=%q data=%q} ", ev.Type, ev.ID, ev.Data)
	}
	fmt.Fprintf(&b, "last=%q", s.lastID)
	if s.hasRetry {
		fmt.Fprintf(&b, " retry=%v", s.retry)
	}
	if s.err != nil {
		fmt.Fprintf(&b, " err=%v", s.err)
	}
	return b.String()
}

func (s *stream) add(ev Event) {
	ev.Data = append([]byte{}, ev.Data...)
	s.events = append(s.events, ev)
}

// feed parses in with an EventParser, in chunks of the given sizes and
// then the rest in one.
func feed(in []byte, limit int, sizes ...int) stream {
	var s stream
	p := EventParser{MaxEventBytes: limit}
	for _, n := range append(sizes, len(in)) {
		n = min(n, len(in))
		if s.err = p.Feed(in[:n], s.add); s.err != nil {
			break
		}
		in = in[n:]
	}
	s.lastID = p.LastEventID()
	s.retry, s.hasRetry = p.Retry()
	return s
}

// decode parses r with an EventDecoder up to its first error, reporting
// io.EOF as no error.
func decode(r io.Reader, limit int) stream {
	var s stream
	d := NewEventDecoder(r)
	d.MaxEventBytes = limit
	for {
		ev, err := d.Next()
		if err != nil {
			if err != io.EOF {
				s.err = err
			}
			break
		}
		s.add(ev)
	}
	s.lastID = d.LastEventID()
	s.retry, s.hasRetry = d.Retry()
	return s
}

// checkAllSplits parses in whole, byte by byte, at every single split
// point and through an EventDecoder, and checks that each gives want.
func checkAllSplits(t *testing.T, in string, limit int, want string) {
	t.Helper()
	b := []byte(in)
	check := func(how string, got stream) {
		t.Helper()
		if got.String() != want {
			t.Errorf("%s:\n got %s\nwant %s", how, got, want)
		}
	}
	check("whole", feed(b, limit))
	ones := make([]int, len(b))
	for i := range ones {
		ones[i] = 1
	}
	check("bytewise", feed(b, limit, ones...))
	for i := 1; i < len(b); i++ {
		check("split at "+strconv.Itoa(i), feed(b, limit, i))
	}
	check("EventDecoder", decode(strings.NewReader(in), limit))
	check("EventDecoder bytewise", decode(iotest.OneByteReader(strings.NewReader(in)), limit))
}

func TestParseSpec(t *testing.T) {
	msg := func(id, data string) string {
		return fmt.Sprintf("{type=%q id=%q data=%q} ", "message", id, data)
	}
	tests := []struct {
		name, in, want string
	}{
		// The examples of the WHATWG specification.
		{"stock", "data: YHOO\ndata: +2\ndata: 10\n\n",
			msg("", "YHOO\n+2\n10") + `last=""`},
		{"ids", ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			msg("1", "first event") + msg("", "second event") + `last=""`},
		{"empty data", "data\n\ndata\ndata\n\ndata:",
			msg("", "") + msg("", "\n") + `last=""`},
		{"space optional", "data:test\n\ndata: test\n\n",
			msg("", "test") + msg("", "test") + `last=""`},
		{"event types", "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
			`{type="add" id="" data="73857293"} {type="remove" id="" data="2153"} {type="add" id="" data="113411"} last=""`},

		// Lines and fields.
		{"comment", ": hello\n:\n\n", `last=""`},
		{"comment between", "data: a\n: note\ndata: b\n\n", msg("", "a\nb") + `last=""`},
		{"one space stripped", "data:  x \n\n", msg("", " x ") + `last=""`},
		{"tab kept", "data:\tx\n\n", msg("", "\tx") + `last=""`},
		{"colon in value", "data: a: b\n\n", msg("", "a: b") + `last=""`},
		{"no colon", "data\n\n", msg("", "") + `last=""`},
		{"unknown field", "foo: bar\nfoo\ndata: x\n\n", msg("", "x") + `last=""`},
		{"long unknown field", "datadata: bar\n\n", `last=""`},
		{"case sensitive", "Data: x\n\n", `last=""`},
		{"space before colon", "data : x\n\n", `last=""`},
		{"trailing LF kept", "data: a\ndata\n\n", msg("", "a\n") + `last=""`},
		{"NUL and U+2028 in data", "data: a\x00\u2028\U0001F600\n\n", msg("", "a\x00\u2028\U0001F600") + `last=""`},

		// Line ends.
		{"CR", "data: a\rdata: b\r\r", msg("", "a\nb") + `last=""`},
		{"CRLF", "data: a\r\ndata: b\r\n\r\n", msg("", "a\nb") + `last=""`},
		{"mixed", "data: a\rdata: b\r\ndata: c\n\r\n", msg("", "a\nb\nc") + `last=""`},
		{"LF CR is two ends", "data: a\n\rdata: b\n\n", msg("", "a") + msg("", "b") + `last=""`},
		{"CR CR LF", "data: a\r\r\ndata: b\n\n", msg("", "a") + msg("", "b") + `last=""`},
		{"unfinished event dropped", "data: a\n\ndata: b\n", msg("", "a") + `last=""`},
		{"unfinished line dropped", "data: a", `last=""`},
		{"dispatch at final CR", "data: a\r\r", msg("", "a") + `last=""`},

		// Event type.
		{"type reset after event", "event: a\ndata: 1\n\ndata: 2\n\n",
			`{type="a" id="" data="1"} ` + msg("", "2") + `last=""`},
		{"type reset without data", "event: a\n\ndata: 2\n\n", msg("", "2") + `last=""`},
		{"empty type", "event:\ndata: x\n\n", msg("", "x") + `last=""`},
		{"last type wins", "event: a\nevent: b\ndata: x\n\n", `{type="b" id="" data="x"} last=""`},

		// Last event ID.
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\n", msg("1", "a") + msg("1", "b") + `last="1"`},
		{"id without data", "id: 5\n\ndata: x\n\n", msg("5", "x") + `last="5"`},
		{"id set at blank line", "id: 5\n\nid: 6\n", `last="5"`},
		{"id after data", "data: x\nid: 9\n\n", msg("9", "x") + `last="9"`},
		{"id reset", "id: 5\ndata: a\n\nid\ndata: b\n\n", msg("5", "a") + msg("", "b") + `last=""`},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", msg("1", "a") + msg("1", "b") + `last="1"`},
		{"id keeps spaces", "id:  7 \ndata: a\n\n", msg(" 7 ", "a") + `last=" 7 "`},

		// Reconnection time.
		{"retry", "retry: 1500\n\n", `last="" retry=1.5s`},
		{"retry zero", "retry: 0\n", `last="" retry=0s`},
		{"retry latest valid", "retry: 10\nretry: 20\nretry: 3x\n", `last="" retry=20ms`},
		{"retry not digits", "retry: -1\nretry: 1.5\nretry:  1\nretry: 1e3\n", `last=""`},
		{"retry empty", "retry:\nretry\n", `last=""`},
		{"retry overflow", "retry: 99999999999999999999\n", `last=""`},
		{"retry max", "retry: 9223372036854\nretry: 9223372036855\n", `last="" retry=2562047h47m16.854s`},

		// UTF-8 decoding.
		{"BOM", "\xEF\xBB\xBFdata: x\n\n", msg("", "x") + `last=""`},
		{"second BOM kept", "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n", msg("", "y") + `last=""`},
		{"BOM in data kept", "data: \xEF\xBB\xBFx\n\n", msg("", "\uFEFFx") + `last=""`},
		{"partial BOM", "\xEF\xBBdata: x\n\ndata: y\n\n", msg("", "y") + `last=""`},
		{"partial BOM then line end", "\xEF\xBB\n\ndata: y\n\n", msg("", "y") + `last=""`},
		{"BOM only", "\xEF\xBB\xBF", `last=""`},
		{"invalid byte", "data: a\xFFb\n\n", msg("", "a\uFFFDb") + `last=""`},
		{"truncated sequence", "data: \xE2\x82A\n\n", msg("", "\uFFFDA") + `last=""`},
		{"truncated at line end", "data: \xF0\x9F\x98\n\n", msg("", "\uFFFD") + `last=""`},
		{"overlong", "data: \xC0\xAF\n\n", msg("", "\uFFFD\uFFFD") + `last=""`},
		{"surrogate", "data: \xED\xA0\x80\n\n", msg("", "\uFFFD\uFFFD\uFFFD") + `last=""`},
		{"invalid type and id", "event: \xFF\nid: \xFF\ndata: x\n\n", "{type=\"\uFFFD\" id=\"\uFFFD\" data=\"x\"} last=\"\uFFFD\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAllSplits(t, tt.in, 0, tt.want)
		})
	}
}

func TestParseLimit(t *testing.T) {
	const tooLarge = " err=wire: event too large"
	tests := []struct {
		name, in, want string
	}{
		{"data at limit", "data: 12345678\n\n", `{type="message" id="" data="12345678"} last=""`},
		{"data over limit", "data: a\n\ndata: 123456789\n\ndata: b\n\n", `{type="message" id="" data="a"} last=""` + tooLarge},
		{"unfinished line over limit", "data: 123456789", `last=""` + tooLarge},
		{"lines at limit", "data: 1234\ndata: 123\n\n", `{type="message" id="" data="1234\n123"} last=""`},
		{"lines over limit", "data: 1234\ndata: 1234\n\n", `last=""` + tooLarge},
		{"empty line over limit", "data: 12345678\ndata\n\n", `last=""` + tooLarge},
		{"replacement over limit", "data: \xFF\xFF\xFF\n\n", `last=""` + tooLarge},
		{"id over limit", "id: 123456789\n", `last=""` + tooLarge},
		{"event over limit", "event: 123456789\n", `last=""` + tooLarge},
		{"long comment", ": " + strings.Repeat("x", 100) + "\n\n", `last=""`},
		{"long unknown field", "x: " + strings.Repeat("x", 100) + "\n\n", `last=""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAllSplits(t, tt.in, 8, tt.want)
		})
	}
}

func TestErrEventTooLarge(t *testing.T) {
	if got := ErrEventTooLarge.Error(); got != "wire: event too large" {
		t.Errorf("Error() = %q", got)
	}
	d := NewEventDecoder(strings.NewReader("data: 123456789\n\n"))
	d.MaxEventBytes = 8
	for range 2 {
		if _, err := d.Next(); err != ErrEventTooLarge {
			t.Fatalf("Next() error = %v, want ErrEventTooLarge", err)
		}
	}
	var p EventParser
	p.MaxEventBytes = 4
	if err := p.Feed([]byte("id: 12345"), nil); err != ErrEventTooLarge {
		t.Fatalf("Feed() error = %v, want ErrEventTooLarge", err)
	}
	if err := p.Feed(nil, nil); err != ErrEventTooLarge {
		t.Fatalf("Feed() after failure = %v, want ErrEventTooLarge", err)
	}
}

func TestDecoderReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	d := NewEventDecoder(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom)))
	if ev, err := d.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("Next() = %q, %v; want a", ev.Data, err)
	}
	for range 2 {
		if _, err := d.Next(); err != boom {
			t.Fatalf("Next() error = %v, want boom", err)
		}
	}

	// Data that comes with an error is parsed before the error is returned.
	d = NewEventDecoder(iotest.DataErrReader(strings.NewReader("data: a\n\n")))
	if ev, err := d.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("Next() = %q, %v; want a", ev.Data, err)
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("Next() error = %v, want io.EOF", err)
	}

	d = NewEventDecoder(emptyReader{})
	if _, err := d.Next(); err != io.ErrNoProgress {
		t.Fatalf("Next() error = %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestDecoderDataAlias(t *testing.T) {
	d := NewEventDecoder(strings.NewReader("data: a\n\ndata: b\n\n"))
	ev, _ := d.Next()
	ev.Data = append(ev.Data, "xyz"...) // must not disturb the decoder
	if ev, err := d.Next(); err != nil || string(ev.Data) != "b" {
		t.Fatalf("Next() = %q, %v; want b", ev.Data, err)
	}
}

func TestParserAllocs(t *testing.T) {
	in := []byte("id: 1\ndata: tsome text frame\n\n: comment\ndata: h\n\n")
	var p EventParser
	p.Feed(in, func(Event) {})
	n := testing.AllocsPerRun(100, func() {
		p.Feed(in, func(Event) {})
	})
	if n != 0 {
		t.Errorf("Feed allocates %v times per run with a repeated id, want 0", n)
	}
}

// refUTF8 is a transcription of the WHATWG Encoding standard's UTF-8
// decoder with replacement, the oracle for appendUTF8.
func refUTF8(in []byte) string {
	var out []rune
	needed, seen, cp := 0, 0, rune(0)
	lo, hi := byte(0x80), byte(0xBF)
	for i := 0; i < len(in); i++ {
		b := in[i]
		if needed == 0 {
			switch {
			case b <= 0x7F:
				out = append(out, rune(b))
			case b >= 0xC2 && b <= 0xDF:
				needed, cp = 1, rune(b&0x1F)
			case b >= 0xE0 && b <= 0xEF:
				if b == 0xE0 {
					lo = 0xA0
				}
				if b == 0xED {
					hi = 0x9F
				}
				needed, cp = 2, rune(b&0xF)
			case b >= 0xF0 && b <= 0xF4:
				if b == 0xF0 {
					lo = 0x90
				}
				if b == 0xF4 {
					hi = 0x8F
				}
				needed, cp = 3, rune(b&0x7)
			default:
				out = append(out, utf8.RuneError)
			}
			continue
		}
		if b < lo || b > hi {
			needed, seen, cp, lo, hi = 0, 0, 0, 0x80, 0xBF
			out = append(out, utf8.RuneError)
			i-- // prepend b to the stream
			continue
		}
		lo, hi = 0x80, 0xBF
		cp = cp<<6 | rune(b&0x3F)
		if seen++; seen == needed {
			out = append(out, cp)
			needed, seen, cp = 0, 0, 0
		}
	}
	if needed != 0 {
		out = append(out, utf8.RuneError)
	}
	return string(out)
}

func TestAppendUTF8(t *testing.T) {
	// Every sequence of up to four bytes drawn from the boundaries of the
	// UTF-8 byte classes.
	set := []byte{0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
		0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF}
	var b []byte
	var walk func(depth int)
	walk = func(depth int) {
		if got, want := string(appendUTF8(nil, b)), refUTF8(b); got != want {
			t.Fatalf("appendUTF8(%q) = %q, want %q", b, got, want)
		}
		if depth == 4 {
			return
		}
		for _, c := range set {
			b = append(b, c)
			walk(depth + 1)
			b = b[:len(b)-1]
		}
	}
	walk(0)
}

// loopReader reads b over and over.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

func BenchmarkDecoder(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			// Sixteen sequenced events, as a Ferry downstream sends them.
			var in []byte
			for id := range uint64(16) {
				in = AppendEvent(in, 1000+id, benchFrame(size.n))
			}
			d := NewEventDecoder(&loopReader{b: in})
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if ev, err := d.Next(); err != nil || len(ev.Data) != size.n {
					b.Fatalf("Next() = %d bytes, %v", len(ev.Data), err)
				}
			}
		})
	}
}

func TestDecoderLargeEvent(t *testing.T) {
	// A buffer grown past maxKept is dropped after an event that needed
	// much less of it; the events must not notice.
	big := strings.Repeat("x", 2*maxKept)
	want := []string{big, "a", big[:maxKept+1], big, "b"}
	var in []byte
	for _, w := range want {
		in = AppendEvent(in, 0, []byte(w))
	}
	d := NewEventDecoder(bytes.NewReader(in))
	for _, w := range want {
		if ev, err := d.Next(); err != nil || string(ev.Data) != w {
			t.Fatalf("Next() = %d bytes, %v; want %d", len(ev.Data), err, len(w))
		}
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("Next() at end = %v, want io.EOF", err)
	}
}

// TestDecoderReset checks that a reset decoder reads a new stream exactly
// as a new decoder does, whatever state the last stream left it in (an
// unfinished event, an event id, a type).
func TestDecoderReset(t *testing.T) {
	first := "id: 7\nevent: x\ndata: unfinished"
	second := "data: a\n\nid: 2\ndata: b\ndata: c\n\n: comment\nevent: e\ndata: d\n\n"
	want := decodeAll(t, NewEventDecoder(strings.NewReader(second)))
	d := NewEventDecoder(strings.NewReader(first))
	for {
		if _, err := d.Next(); err != nil {
			break
		}
	}
	d.Reset(strings.NewReader(second))
	if got := decodeAll(t, d); !slices.EqualFunc(got, want, func(a, b Event) bool {
		return a.ID == b.ID && a.Type == b.Type && string(a.Data) == string(b.Data)
	}) {
		t.Fatalf("after Reset: %q, want %q", got, want)
	}
	if n := testing.AllocsPerRun(50, func() {
		d.Reset(strings.NewReader(second))
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
	}); n > 2 {
		t.Errorf("%v allocations per reset stream, want at most 2 (the reader)", n)
	}
}

func decodeAll(t *testing.T, d *EventDecoder) []Event {
	t.Helper()
	var evs []Event
	for {
		ev, err := d.Next()
		if err != nil {
			return evs
		}
		ev.Data = append([]byte(nil), ev.Data...)
		evs = append(evs, ev)
	}
}
