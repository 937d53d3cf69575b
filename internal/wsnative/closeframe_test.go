package wsnative

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"

	"github.com/ferrygw/ferry/bytesocket"
)

// closeCases are close payloads a client may send, with the code the
// server answers and the application reads (RFC 6455 §5.5.1, §7.4).
var closeCases = []struct {
	name    string
	payload []byte
	want    bytesocket.StatusCode
}{
	{"empty", nil, bytesocket.StatusNoStatusRcvd},
	{"normal", closeFrame(1000, "bye"), 1000},
	{"going away", closeFrame(1001, ""), 1001},
	{"bad gateway", closeFrame(1014, "upstream"), 1014},
	{"private", closeFrame(4999, "x"), 4999},
	{"registered", closeFrame(3000, ""), 3000},
	{"one byte", []byte{0x03}, bytesocket.StatusProtocolError},
	{"code 0", closeFrame(0, ""), bytesocket.StatusProtocolError},
	{"code 999", closeFrame(999, ""), bytesocket.StatusProtocolError},
	{"code 1004", closeFrame(1004, ""), bytesocket.StatusProtocolError},
	{"code 1005", closeFrame(1005, ""), bytesocket.StatusProtocolError},
	{"code 1006", closeFrame(1006, ""), bytesocket.StatusProtocolError},
	{"code 1015", closeFrame(1015, ""), bytesocket.StatusProtocolError},
	{"code 1016", closeFrame(1016, ""), bytesocket.StatusProtocolError},
	{"code 2999", closeFrame(2999, ""), bytesocket.StatusProtocolError},
	{"code 5000", closeFrame(5000, ""), bytesocket.StatusProtocolError},
	{"code 65535", closeFrame(65535, ""), bytesocket.StatusProtocolError},
	{"bad UTF-8 reason", closeFrame(1000, "ok\xff"), bytesocket.StatusInvalidFramePayload},
	{"bad code and UTF-8", closeFrame(1005, "\xc3"), bytesocket.StatusProtocolError},
}

// TestCloseFrames sends each close frame after a message, whole and one
// byte per write, and checks the server's answer and what the
// application reads.
func TestCloseFrames(t *testing.T) {
	for _, tc := range closeCases {
		for _, chunk := range []int{0, 1} {
			name := tc.name
			if chunk == 1 {
				name += "/bytewise"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { testCloseFrame(t, tc.payload, chunk, tc.want) })
			})
		}
	}
}

func testCloseFrame(t *testing.T, payload []byte, chunk int, want bytesocket.StatusCode) {
	s, c := acceptPipe(t, heartbeat)
	defer finish(s, c)
	answer := make(chan bytesocket.StatusCode, 1)
	go func() { answer <- c.readClose(t) }() // the pipe has no buffer
	go func() {
		f := append(frame(opText, []byte("before")), frame(opClose, payload)...)
		_ = c.send(f, chunk, 0)
	}()
	if _, p, err := s.Read(context.Background()); err != nil || string(p) != "before" {
		t.Fatalf("Read: %q, %v; want the message before the close", p, err)
	}
	// A valid close is answered when the application reads it, after it
	// has answered the message before; an invalid one at once.
	_, _, err := s.Read(context.Background())
	if got := bytesocket.CloseStatus(err); got != want {
		t.Errorf("Read: %v; want close %d", err, want)
	}
	if got := <-answer; got != want {
		t.Errorf("server answered %d; want %d", got, want)
	}
}

// TestCloseScannerSplits feeds frames to the scanner in every split and
// checks it finds the close payload each time.
func TestCloseScannerSplits(t *testing.T) {
	close := closeFrame(1000, "done")
	var stream []byte
	for _, n := range []int{0, 1, 125, 126, 65536} {
		stream = append(stream, frame(0x2, make([]byte, n))...)
	}
	stream = append(stream, frame(opPing, []byte("p"))...)
	stream = append(stream, frame(opClose, close)...)
	for _, chunk := range []int{1, 2, 3, 7, 100, 4096, len(stream)} {
		var s closeScanner
		var got []byte
		found := 0
		for p := stream; len(p) > 0; {
			n := min(chunk, len(p))
			if payload, ok := s.scan(p[:n]); ok {
				got = bytes.Clone(payload)
				found++
			}
			p = p[n:]
		}
		if found != 1 || !bytes.Equal(got, close) {
			t.Errorf("chunks of %d: found %d, payload %q; want one, %q", chunk, found, got, close)
		}
	}
}

// FuzzCloseScanner checks that the scanner finds the same close payload
// whatever the reads' sizes, and never panics.
func FuzzCloseScanner(f *testing.F) {
	f.Add(append(frame(opText, []byte("hi")), frame(opClose, []byte{3})...), uint8(1))
	f.Add(frame(opClose, closeFrame(1000, "x")), uint8(3))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		var whole, split closeScanner
		want, wantOK := whole.scan(stream)
		want = bytes.Clone(want)
		var got []byte
		gotOK := false
		step := int(chunk) + 1
		for p := stream; len(p) > 0 && !gotOK; {
			n := min(step, len(p))
			got, gotOK = split.scan(p[:n])
			p = p[n:]
		}
		if gotOK != wantOK || !bytes.Equal(got, want) {
			t.Errorf("in chunks of %d: %q, %v; whole: %q, %v", step, got, gotOK, want, wantOK)
		}
		if gotOK {
			checkClose(got) // must not panic
		}
	})
}
