package emulation

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

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
		one := newBodyReader(iotest.OneByteReader(bytes.NewReader(body)), 0)
		for i := 0; ; i++ {
			f, ok, err1 := one.next()
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
