package emulation

import (
	"bytes"
	"testing"
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
