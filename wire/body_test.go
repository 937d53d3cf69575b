package wire

import (
	"errors"
	"strings"
	"testing"
)

// TestBodyReaderStreams checks that the upstream body parser hands out
// frames as it reads them, long lines included, and stops at the frame
// limit.
func TestBodyReaderStreams(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // over the reader's buffer
	body := "ta\n" + "t" + long + "\nc1000 bye"
	b := NewBodyReader(strings.NewReader(body), 0)
	var got []string
	for {
		f, ok, err := b.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, string(f.Kind)+string(f.Data))
	}
	want := []string{"ta", "t" + long, "cbye"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("frames %.20q, want %.20q", got, want)
	}

	b = NewBodyReader(strings.NewReader(strings.Repeat("t\n", 5)), 4)
	n := 0
	for {
		_, ok, err := b.Next()
		if !ok {
			if n != 4 || !errors.Is(err, ErrTooManyFrames) {
				t.Fatalf("%d frames then %v, want 4 then ErrTooManyFrames", n, err)
			}
			break
		}
		n++
	}
}
