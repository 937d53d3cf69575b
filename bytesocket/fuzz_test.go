package bytesocket_test

import (
	"bytes"
	"errors"
	"testing"
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
		frame := bytesocket.AppendText(nil, payload)
		if _, got, err := bytesocket.ParseFrame(frame); !errors.Is(err, bytesocket.ErrInvalidUTF8) || !bytes.Equal(got, payload) {
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
		typ, p, err := bytesocket.ParseFrame(frame)
		if err != nil && !errors.Is(err, bytesocket.ErrInvalidUTF8) {
			if !errors.Is(err, bytesocket.ErrBadFrame) {
				t.Fatalf("ParseFrame(%q) = %v, want ErrBadFrame or ErrInvalidUTF8", frame, err)
			}
			return
		}
		again := bytesocket.AppendFrame(nil, typ, p)
		if !bytes.Equal(again, frame) {
			t.Fatalf("ParseFrame(%q) = %s, %q, which encodes to %q", frame, typ, p, again)
		}
		typ2, p2, err2 := bytesocket.ParseFrame(again)
		if typ2 != typ || !bytes.Equal(p2, p) || !errors.Is(err2, err) {
			t.Fatalf("%q parses to %s, %q, %v, then to %s, %q, %v", frame, typ, p, err, typ2, p2, err2)
		}
	})
}
