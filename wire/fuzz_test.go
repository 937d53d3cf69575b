package wire

// The fuzz targets of every parser in the package. Seeds are in
// testdata/fuzz/<target>, besides those added with f.Add.

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// FuzzFrameRoundTrip checks that any payload, as a binary message and,
// when it is valid UTF-8, as a text message, encodes to a frame without
// CR or LF that parses back to the same message. Seeds are in
// testdata/fuzz/FuzzFrameRoundTrip.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		roundTrip(t, bytesocket.Binary, payload)
		if utf8.Valid(payload) {
			roundTrip(t, bytesocket.Text, payload)
			return
		}
		frame := AppendText(nil, payload)
		if _, got, err := ParseFrame(frame); !errors.Is(err, bytesocket.ErrInvalidUTF8) || !bytes.Equal(got, payload) {
			t.Errorf("invalid UTF-8 %q: frame %q parses to %q, %v; want it with ErrInvalidUTF8", payload, frame, got, err)
		}
	})
}

// FuzzParseFrame checks that ParseFrame never panics and accepts only
// canonical frames: whatever it parses, even text that is not UTF-8,
// re-encodes to the same bytes, and so parses to the same message again.
// Seeds are in testdata/fuzz/FuzzParseFrame.
func FuzzParseFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		typ, p, err := ParseFrame(frame)
		if err != nil && !errors.Is(err, bytesocket.ErrInvalidUTF8) {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("ParseFrame(%q) = %v, want ErrBadFrame or ErrInvalidUTF8", frame, err)
			}
			return
		}
		again := AppendFrame(nil, typ, p)
		if !bytes.Equal(again, frame) {
			t.Fatalf("ParseFrame(%q) = %s, %q, which encodes to %q", frame, typ, p, again)
		}
		typ2, p2, err2 := ParseFrame(again)
		if typ2 != typ || !bytes.Equal(p2, p) || !errors.Is(err2, err) {
			t.Fatalf("%q parses to %s, %q, %v, then to %s, %q, %v", frame, typ, p, err, typ2, p2, err2)
		}
	})
}

// FuzzParseBody checks that the upstream body parser never panics, that
// what it accepts re-encodes to a body that parses to the same frames, and
// that a prefix of frames is returned with any error.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		"thello\n", "b3q2+7w==\n", "c1000 bye\n", "t\\r\\n\\\\\n", "b\n", "t\n",
		"thello\nb\nc4000", "x\n", "t\\q\n", "c999\n", "c1000 \\x\n", "tdata: x\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		frames, err := ParseBody(body)
		// The server reads bodies as they arrive: byte by byte, the same.
		one := NewBodyReader(iotest.OneByteReader(bytes.NewReader(body)), 0)
		for i := 0; ; i++ {
			f, ok, err1 := one.Next()
			if !ok {
				if i != len(frames) || (err1 == nil) != (err == nil) {
					t.Fatalf("byte by byte: %d frames, %v; whole: %d frames, %v", i, err1, len(frames), err)
				}
				break
			}
			if i >= len(frames) || f.Kind != frames[i].Kind || !bytes.Equal(f.Data, frames[i].Data) {
				t.Fatalf("byte by byte, frame %d differs", i)
			}
		}
		var again []byte
		for i := range frames {
			again = append(frames[i].AppendText(again), '\n')
		}
		back, err2 := ParseBody(again)
		if err2 != nil || len(back) != len(frames) {
			t.Fatalf("re-encoded body %q: %d frames, %v; want %d", again, len(back), err2, len(frames))
		}
		for i := range back {
			a, b := frames[i], back[i]
			if a.Kind != b.Kind || a.Code != b.Code || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("frame %d: %+v became %+v", i, a, b)
			}
		}
		_ = err
	})
}

// FuzzParseProtocols checks the subprotocol offer parser: no panic, what it
// accepts is within the limits and made of distinct tokens, and it
// round-trips through a comma-joined list.
func FuzzParseProtocols(f *testing.F) {
	for _, s := range []string{"", "mqtt", "a,b", "a, b", "a,a", "a,,b", " ", "a b", strings.Repeat("p,", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProtocols(s)
		if err != nil {
			return
		}
		if len(p) > MaxProtocols || len(s) > MaxProtocolBytes {
			t.Fatalf("accepted %d protocols in %d bytes", len(p), len(s))
		}
		seen := map[string]bool{}
		for _, q := range p {
			if !isToken(q) || seen[q] {
				t.Fatalf("accepted %q in %q", q, s)
			}
			seen[q] = true
		}
		if back, err := ParseProtocols(strings.Join(p, ",")); err != nil || len(back) != len(p) {
			t.Fatalf("%q re-joined: %v, %v", p, back, err)
		}
	})
}

// FuzzParseWSMessage feeds arbitrary messages to ParseWSMessage, which
// reads what a peer sends on a Ferry WebSocket: it must never panic, must
// honour maxBytes, and a message it accepts must be exactly one of its
// kinds.
func FuzzParseWSMessage(f *testing.F) {
	for _, s := range []string{"hello", "\x00\x01\x02", "\x01a12", "\x01n7", "\x01n0", "\x01n", "\x01h",
		"\x01o{}", "\x01c1000 bye", "\x01c", "\x01x", "\x01", "", "\x02", "\x01a-1", "\x01n99999999999999999999"} {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Fuzz(func(t *testing.T, text bool, p []byte) {
		typ := bytesocket.Binary
		if text {
			typ = bytesocket.Text
		}
		const maxBytes = 64
		m, err := ParseWSMessage(typ, p, maxBytes)
		if err != nil {
			return
		}
		kinds := 0
		for _, is := range []bool{m.Seq, m.IsAck, m.Next != 0, m.Open != nil} {
			if is {
				kinds++
			}
		}
		if kinds > 1 {
			t.Fatalf("ParseWSMessage(%q) = %+v: more than one kind", p, m)
		}
		if m.Seq && m.Frame.Kind != KindClose && len(m.Frame.Data) > maxBytes {
			t.Fatalf("ParseWSMessage(%q): %d-byte payload accepted with maxBytes %d", p, len(m.Frame.Data), maxBytes)
		}
		if kinds == 0 && (typ != bytesocket.Binary || len(p) != 2 || p[0] != WSControl || p[1] != KindHeartbeat) {
			t.Fatalf("ParseWSMessage(%q) = %+v: accepted as a heartbeat", p, m)
		}
	})
}

// FuzzDecoderChunks checks that the event-stream parser gives the same
// events however its input is split, and the events the specification's
// rules give. Each byte of cuts is the size of the next chunk; limit is
// MaxEventBytes (0 for the default).
func FuzzDecoderChunks(f *testing.F) {
	f.Fuzz(func(t *testing.T, in, cuts []byte, limit uint8) {
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = int(c)
		}
		whole := feed(in, int(limit))
		if got := feed(in, int(limit), sizes...); got.String() != whole.String() {
			t.Fatalf("in chunks %v:\n got %s\nwant %s", sizes, got, whole)
		}
		if got := decode(&chunkReader{in, sizes}, int(limit)); got.String() != whole.String() {
			t.Fatalf("Decoder, reads of %v:\n got %s\nwant %s", sizes, got, whole)
		}
		if limit == 0 {
			if want := refParse(in); whole.String() != want.String() {
				t.Fatalf("whole:\n got %s\nwant %s", whole, want)
			}
		}
	})
}

// FuzzEventRoundTrip checks that a message framed by the text codec
// crosses an event stream unchanged, and that any other data reads back as
// the specification says.
func FuzzEventRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte, binary bool, id uint64) {
		wantID := ""
		if id != 0 {
			wantID = strconv.FormatUint(id, 10)
		}
		typ := bytesocket.Text
		if binary || !utf8.Valid(payload) {
			typ = bytesocket.Binary
		}
		frame := AppendFrame(nil, typ, payload)
		if !ValidEventData(frame) || bytes.IndexByte(frame, '\n') >= 0 {
			t.Fatalf("frame %q is not one valid data line", frame)
		}
		s := feed(AppendEvent(nil, id, frame), 0)
		if len(s.events) != 1 || s.err != nil {
			t.Fatalf("frame %q reads back as %s", frame, s)
		}
		ev := s.events[0]
		gotTyp, got, err := ParseFrame(ev.Data)
		if err != nil || gotTyp != typ || !bytes.Equal(got, payload) || ev.ID != wantID {
			t.Fatalf("%v %q came back as %v %q (id %q), %v", typ, payload, gotTyp, got, ev.ID, err)
		}

		s = feed(AppendEvent(nil, id, payload), 0)
		want := refUTF8([]byte(crlfToLF(string(payload))))
		if len(s.events) != 1 || string(s.events[0].Data) != want || s.events[0].ID != wantID {
			t.Fatalf("data %q reads back as %s, want %q", payload, s, want)
		}
		if ValidEventData(payload) && want != string(payload) {
			t.Fatalf("ValidEventData(%q) but it reads back as %q", payload, want)
		}
	})
}

// chunkReader returns b in reads of the given sizes (at least one byte),
// then the rest.
type chunkReader struct {
	b     []byte
	sizes []int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if len(r.sizes) > 0 {
		n, r.sizes = max(r.sizes[0], 1), r.sizes[1:]
	}
	n = copy(p, r.b[:min(n, len(r.b))])
	r.b = r.b[n:]
	return n, nil
}

func crlfToLF(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// refParse interprets in by a literal reading of the WHATWG event-stream
// rules, as an oracle for EventParser.
func refParse(in []byte) stream {
	var s stream
	text := refUTF8(bytes.TrimPrefix(in, bom))
	var data, typ, idBuf string
	for {
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			break // the unfinished tail is discarded
		}
		line := text[:i]
		if strings.HasPrefix(text[i:], "\r\n") {
			i++
		}
		text = text[i+1:]
		if line == "" {
			s.lastID = idBuf
			if data != "" {
				if typ == "" {
					typ = "message"
				}
				s.events = append(s.events, Event{Type: typ, Data: []byte(strings.TrimSuffix(data, "\n")), ID: s.lastID})
			}
			data, typ = "", ""
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, ok := strings.Cut(line, ":")
		if ok {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			typ = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				idBuf = value
			}
		case "retry":
			if ms, err := strconv.ParseInt(value, 10, 64); err == nil && strings.Trim(value, "0123456789") == "" &&
				ms <= (1<<63-1)/int64(time.Millisecond) {
				s.retry, s.hasRetry = time.Duration(ms)*time.Millisecond, true
			}
		}
	}
	return s
}
