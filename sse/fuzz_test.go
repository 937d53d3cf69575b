package sse

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// FuzzDecoderChunks checks that the parser gives the same events however
// its input is split, and the events the specification's rules give.
// Each byte of cuts is the size of the next chunk; limit is MaxEventBytes
// (0 for the default).
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

// FuzzEventRoundTrip checks that a message framed by the bytesocket codec
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
		frame := bytesocket.AppendFrame(nil, typ, payload)
		if !ValidData(frame) || bytes.IndexByte(frame, '\n') >= 0 {
			t.Fatalf("frame %q is not one valid data line", frame)
		}
		s := feed(AppendEvent(nil, id, frame), 0)
		if len(s.events) != 1 || s.err != nil {
			t.Fatalf("frame %q reads back as %s", frame, s)
		}
		ev := s.events[0]
		gotTyp, got, err := bytesocket.ParseFrame(ev.Data)
		if err != nil || gotTyp != typ || !bytes.Equal(got, payload) || ev.ID != wantID {
			t.Fatalf("%v %q came back as %v %q (id %q), %v", typ, payload, gotTyp, got, ev.ID, err)
		}

		s = feed(AppendEvent(nil, id, payload), 0)
		want := refUTF8([]byte(crlfToLF(string(payload))))
		if len(s.events) != 1 || string(s.events[0].Data) != want || s.events[0].ID != wantID {
			t.Fatalf("data %q reads back as %s, want %q", payload, s, want)
		}
		if ValidData(payload) && want != string(payload) {
			t.Fatalf("ValidData(%q) but it reads back as %q", payload, want)
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
// rules, as an oracle for Parser.
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
