package wire

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// frameTests pairs messages with their frames. The text payloads are the
// ones event streams and line-based bodies tend to damage.
var frameTests = []struct {
	typ     bytesocket.MessageType
	payload string
	frame   string
}{
	{bytesocket.Text, "", "t"},
	{bytesocket.Text, "hello", "thello"},
	{bytesocket.Text, "\r", `t\r`},
	{bytesocket.Text, "\n", `t\n`},
	{bytesocket.Text, "\r\n", `t\r\n`},
	{bytesocket.Text, "\n\n", `t\n\n`},
	{bytesocket.Text, "a\rb\nc", `ta\rb\nc`},
	{bytesocket.Text, "data: x", "tdata: x"},
	{bytesocket.Text, "id: 3", "tid: 3"},
	{bytesocket.Text, ":comment", "t:comment"},
	{bytesocket.Text, "\x00", "t\x00"},
	{bytesocket.Text, "\u2028\u2029\u0085", "t\u2028\u2029\u0085"},
	{bytesocket.Text, "😀𝄞", "t😀𝄞"},
	{bytesocket.Text, `\`, `t\\`},
	{bytesocket.Text, `\r\n`, `t\\r\\n`},
	{bytesocket.Text, `\\`, `t\\\\`},
	{bytesocket.Text, "\\\r", `t\\\r`},
	{bytesocket.Binary, "", "b"},
	{bytesocket.Binary, "h", "baA=="},
	{bytesocket.Binary, "he", "baGU="},
	{bytesocket.Binary, "hello", "baGVsbG8="},
	{bytesocket.Binary, "\r\n", "bDQo="},
	{bytesocket.Binary, "\x00\xff", "bAP8="},
	{bytesocket.Binary, "\xfb\xff\xbf", "b+/+/"},
}

func TestAppendFrame(t *testing.T) {
	for _, tt := range frameTests {
		got := AppendFrame([]byte("prefix:"), tt.typ, []byte(tt.payload))
		if want := "prefix:" + tt.frame; string(got) != want {
			t.Errorf("AppendFrame(%s, %q) = %q, want %q", tt.typ, tt.payload, got, want)
		}
	}
}

func TestParseFrame(t *testing.T) {
	for _, tt := range frameTests {
		typ, p, err := ParseFrame([]byte(tt.frame))
		if err != nil || typ != tt.typ || string(p) != tt.payload {
			t.Errorf("ParseFrame(%q) = %s, %q, %v; want %s, %q", tt.frame, typ, p, err, tt.typ, tt.payload)
		}
	}
}

func TestFrameAllBytes(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	roundTrip(t, bytesocket.Binary, all)
	roundTrip(t, bytesocket.Text, all[:utf8.RuneSelf])
	for i := range all {
		roundTrip(t, bytesocket.Binary, all[i:i+1])
		roundTrip(t, bytesocket.Binary, all[i:])
		if i < utf8.RuneSelf {
			roundTrip(t, bytesocket.Text, all[i:i+1])
		}
	}
}

// roundTrip checks that the frame for a message holds no line break and
// parses back to the message.
func roundTrip(t *testing.T, typ bytesocket.MessageType, payload []byte) {
	t.Helper()
	frame := AppendFrame(nil, typ, payload)
	if bytes.ContainsAny(frame, "\r\n") {
		t.Errorf("frame for %s %q has a line break: %q", typ, payload, frame)
	}
	gotTyp, got, err := ParseFrame(frame)
	if err != nil || gotTyp != typ || !bytes.Equal(got, payload) {
		t.Errorf("%s %q: frame %q parses to %s, %q, %v", typ, payload, frame, gotTyp, got, err)
	}
}

func TestParseFrameInvalidUTF8(t *testing.T) {
	for _, frame := range []string{"t\xff", "ta\\n\x80", "t\xed\xa0\x80", "t\xc3"} {
		typ, p, err := ParseFrame([]byte(frame))
		if !errors.Is(err, bytesocket.ErrInvalidUTF8) || typ != bytesocket.Text || !bytes.Equal(AppendText(nil, p), []byte(frame)) {
			t.Errorf("ParseFrame(%q) = %s, %q, %v; want text, the payload and ErrInvalidUTF8", frame, typ, p, err)
		}
	}
}

func TestParseFrameRejects(t *testing.T) {
	for _, frame := range []string{
		"",            // no kind
		"x", "T", "B", // unknown kind
		"c1000", "h", "a1", // control frames are not messages
		`t\`, `thello\`, `t\\\`, // trailing backslash
		`t\x`, `t\t`, `t\R`, `t\N`, `t\0`, `t\ `, "t\\\n", // unknown escape
		"t\r", "t\n", "ta\rb", "ta\nb", "thello\r\n", // raw line break
		"b!!!!", "bAA-_", "b AQ==", "bAQ== ", "b====", // not base64
		"bA", "bAA", "bAAA", "bAQ=", "bAQ===", // bad length or padding
		"bAB==", "bAAF=", "b//==", // non-canonical padding bits
		"bAQ==\n", "bA\nQ==", "b\rAQ==", "bAA\r\nAA", // line breaks inside base64
	} {
		typ, p, err := ParseFrame([]byte(frame))
		if !errors.Is(err, ErrBadFrame) {
			t.Errorf("ParseFrame(%q) = %s, %q, %v; want ErrBadFrame", frame, typ, p, err)
		}
	}
}

func TestUnescape(t *testing.T) {
	got, err := Unescape([]byte("x:"), []byte(`a\\b\rc\nd`))
	if err != nil || string(got) != "x:a\\b\rc\nd" {
		t.Errorf("Unescape = %q, %v", got, err)
	}
	if _, err := Unescape(nil, []byte(`a\`)); !errors.Is(err, ErrBadFrame) {
		t.Errorf("Unescape of a trailing backslash = %v, want ErrBadFrame", err)
	}
}
