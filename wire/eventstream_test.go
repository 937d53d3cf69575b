package wire

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		id         uint64
		data, want string
	}{
		{0, "tx", "data: tx\n\n"},
		{7, "thello\\nworld", "id: 7\ndata: thello\\nworld\n\n"},
		{1<<64 - 1, "h", "id: 18446744073709551615\ndata: h\n\n"},
		{0, "", "data: \n\n"},
		{0, " x", "data:  x\n\n"},
		{0, "a\nb", "data: a\ndata: b\n\n"},
		{0, "a\r\nb", "data: a\ndata: b\n\n"},
		{0, "a\rb", "data: a\ndata: b\n\n"},
		{0, "a\n", "data: a\ndata: \n\n"},
		{0, "\r\r\n\n", "data: \ndata: \ndata: \ndata: \n\n"},
		{0, "\n\r", "data: \ndata: \ndata: \n\n"},
	}
	for _, tt := range tests {
		if got := string(AppendEvent(nil, tt.id, []byte(tt.data))); got != tt.want {
			t.Errorf("AppendEvent(%d, %q) = %q, want %q", tt.id, tt.data, got, tt.want)
		}
	}
	if got := string(AppendEvent([]byte("x"), 1, []byte("y"))); got != "xid: 1\ndata: y\n\n" {
		t.Errorf("AppendEvent does not append: %q", got)
	}
}

func TestAppendEventAllocs(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 1000)
	dst := make([]byte, 0, 2000)
	if n := testing.AllocsPerRun(100, func() { dst = AppendEvent(dst[:0], 12345, data) }); n != 0 {
		t.Errorf("AppendEvent allocates %v times with room in dst, want 0", n)
	}
	if raceEnabled() {
		return // the race detector adds an allocation to slices.Grow
	}
	if n := testing.AllocsPerRun(100, func() { AppendEvent(nil, 12345, data) }); n != 1 {
		t.Errorf("AppendEvent allocates %v times into nil, want 1", n)
	}
}

func raceEnabled() bool {
	info, _ := debug.ReadBuildInfo()
	return info != nil && slices.Contains(info.Settings, debug.BuildSetting{Key: "-race", Value: "true"})
}

func TestLineEnd(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 200, 5000} {
		b := bytes.Repeat([]byte("x"), n+10)
		for _, c := range []byte("\r\n") {
			b[n] = c
			if got := lineEnd(b); got != n {
				t.Errorf("lineEnd with %q at %d = %d", c, n, got)
			}
			b[n+3] = c ^ ('\r' ^ '\n')
			if got := lineEnd(b); got != n {
				t.Errorf("lineEnd with %q at %d, other at %d = %d", c, n, n+3, got)
			}
			b[n], b[n+3] = 'x', 'x'
		}
		if got := lineEnd(b); got != -1 {
			t.Errorf("lineEnd(%d bytes without line end) = %d", len(b), got)
		}
	}
}

func TestValidData(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{"", true},
		{"thello", true},
		{"a\nb", true},
		{"\x00\u2028\U0001F600", true},
		{"a\rb", false},
		{"a\r\n", false},
		{"\xFF", false},
	}
	for _, tt := range tests {
		if got := ValidEventData([]byte(tt.data)); got != tt.want {
			t.Errorf("ValidEventData(%q) = %v, want %v", tt.data, got, tt.want)
		}
	}
}

func TestAppendComment(t *testing.T) {
	tests := []struct{ text, want string }{
		{"", ": \n"},
		{"hi", ": hi\n"},
		{"a\nb\r\nc\rd", ": a\n: b\n: c\n: d\n"},
	}
	for _, tt := range tests {
		got := AppendComment(nil, tt.text)
		if string(got) != tt.want {
			t.Errorf("AppendComment(%q) = %q, want %q", tt.text, got, tt.want)
		}
		if s := feed(append(got, '\n'), 0); s.String() != `last=""` {
			t.Errorf("comment %q parses as %s", got, s)
		}
	}
}

func TestAppendRetry(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "retry: 1000\n"},
		{1500 * time.Microsecond, "retry: 1\n"},
		{0, "retry: 0\n"},
		{-time.Second, "retry: 0\n"},
	}
	for _, tt := range tests {
		got := AppendRetry(nil, tt.d)
		if string(got) != tt.want {
			t.Errorf("AppendRetry(%v) = %q, want %q", tt.d, got, tt.want)
		}
		var p EventParser
		p.Feed(got, nil)
		if d, ok := p.Retry(); !ok || d != max(tt.d.Truncate(time.Millisecond), 0) {
			t.Errorf("%q parses as %v, %v", got, d, ok)
		}
	}
}

func TestPrelude(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 2048, 3000} {
		want := ":" + strings.Repeat(" ", max(n, 0)) + "\n\n"
		if got := string(Prelude(n)); got != want {
			t.Errorf("Prelude(%d) = %q", n, got)
		}
	}
	if a, b := Prelude(2048), Prelude(2048); &a[0] != &b[0] {
		t.Error("Prelude(2048) is not cached")
	}
	if n := testing.AllocsPerRun(10, func() { Prelude(2048) }); n != 0 {
		t.Errorf("Prelude(2048) allocates %v times", n)
	}
	in := append(Prelude(2048), "data: x\n\n"...)
	if s := feed(in, 0); s.String() != `{type="message" id="" data="x"} last=""` {
		t.Errorf("prelude and event parse as %s", s)
	}
}

// edgePayloads are messages that must cross an event stream unchanged.
var edgePayloads = []string{
	"", "\r", "\n", "\r\n", "\n\n", "\n\r", "a\rb\nc", "data: x", "id: 3", "event: x\n\n",
	"retry: 1", ":", ": comment", " leading space", "\x00", "a\x00b", "\u2028\u2029",
	"\U0001F600", "\\", "\\r\\n", "\\\r", "\uFEFF", "\uFEFFdata", "\uFFFD",
	strings.Repeat("long line\r\n", 10000),
}

// allBytes holds every byte value once.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

type message struct {
	typ bytesocket.MessageType
	p   []byte
}

func roundTripMessages() []message {
	var ms []message
	for _, s := range edgePayloads {
		ms = append(ms, message{bytesocket.Text, []byte(s)}, message{bytesocket.Binary, []byte(s)})
	}
	ms = append(ms, message{bytesocket.Binary, allBytes})
	for i := range allBytes {
		ms = append(ms, message{bytesocket.Binary, allBytes[i : i+1]})
	}
	return ms
}

func TestFrameRoundTrip(t *testing.T) {
	ms := roundTripMessages()
	in := append(Prelude(2048), "retry: 1000\n"...)
	for i, m := range ms {
		in = AppendEvent(in, uint64(i+1), AppendFrame(nil, m.typ, m.p))
		in = AppendEvent(in, 0, []byte("h")) // an unsequenced frame in between
	}
	for _, tt := range []struct {
		name string
		s    stream
	}{
		{"whole", feed(in, 0)},
		{"Decoder bytewise", decode(iotest.OneByteReader(bytes.NewReader(in)), 0)},
		{"Decoder halfway", decode(iotest.HalfReader(bytes.NewReader(in)), 0)},
	} {
		s := tt.s
		if s.err != nil || len(s.events) != 2*len(ms) {
			t.Fatalf("%s: %d events, error %v; want %d", tt.name, len(s.events), s.err, 2*len(ms))
		}
		for i, m := range ms {
			ev := s.events[2*i]
			typ, p, err := ParseFrame(ev.Data)
			if err != nil || typ != m.typ || !bytes.Equal(p, m.p) || ev.ID != fmt.Sprint(i+1) || ev.Type != "message" {
				t.Errorf("%s: %v %.40q came back as %v %.40q (id %q), %v", tt.name, m.typ, m.p, typ, p, ev.ID, err)
			}
			if h := s.events[2*i+1]; string(h.Data) != "h" || h.ID != fmt.Sprint(i+1) {
				t.Errorf("%s: heartbeat after %d = %q (id %q)", tt.name, i+1, h.Data, h.ID)
			}
		}
	}
}

func TestAppendEventLossy(t *testing.T) {
	tests := []struct{ data, want string }{
		{"a\r\nb\rc\n", "a\nb\nc\n"},
		{"\r", "\n"},
		{"\xFFx", "\uFFFDx"},
	}
	for _, tt := range tests {
		s := feed(AppendEvent(nil, 0, []byte(tt.data)), 0)
		if len(s.events) != 1 || string(s.events[0].Data) != tt.want {
			t.Errorf("AppendEvent(%q) reads back as %s, want %q", tt.data, s, tt.want)
		}
	}
}

var benchSizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// benchFrame returns a text frame of n bytes.
func benchFrame(n int) []byte {
	b := []byte{'t'}
	for len(b) < n {
		b = append(b, "the quick brown fox jumps over the lazy dog "...)
	}
	return b[:n]
}

func BenchmarkAppendEvent(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			frame := benchFrame(size.n)
			dst := AppendEvent(nil, 1<<40, frame)
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			id := uint64(1)
			for b.Loop() {
				dst = AppendEvent(dst[:0], id, frame)
				id++
			}
		})
	}
}

// TestAppendBatchEvent checks the event a batch becomes (PROTOCOL.md §5.1): one
// event, a data line per frame, the last frame's number as its id; and
// that the event-stream decoder reads it back as such.
func TestAppendBatchEvent(t *testing.T) {
	b := Batch{Frames: []Frame{
		{Seq: 7, Kind: KindText, Data: []byte("hello\nworld")},
		{Seq: 8, Kind: KindBinary, Data: []byte{0xdd, 0xab, 0xfb, 0xef}},
		{Seq: 9, Kind: KindClose, Code: 1000, Data: []byte("bye")},
	}}
	got := string(AppendBatchEvent(nil, b))
	want := "id: 9\ndata: thello\\nworld\ndata: b3av77w==\ndata: c1000 bye\n\n"
	if got != want {
		t.Fatalf("AppendBatchEvent = %q\nwant %q", got, want)
	}
	if got := string(AppendBatchEvent(nil, Batch{})); got != "data: h\n\n" {
		t.Fatalf("empty batch = %q, want a heartbeat", got)
	}
	ev, err := NewEventDecoder(strings.NewReader(want)).Next()
	if err != nil || ev.ID != "9" || string(ev.Data) != "thello\\nworld\nb3av77w==\nc1000 bye" {
		t.Fatalf("decoded %+v, %v", ev, err)
	}
}
