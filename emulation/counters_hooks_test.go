package emulation

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

type sizes []float64

func (s *sizes) Observe(v float64) { *s = append(*s, v) }

// TestCountersHooks checks what OnAttach and the size observers see: the
// first carrier with its handshake time, each resume with its gap, no
// call for an SSE reconnect or the next long-poll request.
func TestCountersHooks(t *testing.T) {
	var in, out sizes
	var got []Attached
	c := Counters{InSizes: &in, OutSizes: &out, OnAttach: func(a Attached) { got = append(got, a) }}
	sv := &Server{Counters: &c}
	s, err := sv.NewSession(httptest.NewRequest("POST", "/.ferry/open", nil), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Fail(bytesocket.CloseError{Code: bytesocket.StatusGoingAway})
	for i, step := range []struct {
		last      uint64
		transport string
	}{{0, "sse"}, {0, "sse"}, {1, "longpoll"}, {2, "longpoll"}} {
		l, err := s.AttachLeg(step.last, step.transport, false)
		if err != nil {
			t.Fatal(err)
		}
		l.Detach()
		if i == 0 {
			for _, m := range []string{"a", "bb"} {
				if err := s.Write(context.Background(), bytesocket.Text, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if len(got) != 2 || !got[0].First || got[0].To != "sse" || got[0].Resume || got[0].Open <= 0 ||
		got[1] != (Attached{From: "sse", To: "longpoll", Resume: true, Fallback: true, Gap: 1}) {
		t.Fatalf("OnAttach saw %+v", got)
	}
	if !slices.Equal(out, sizes{1, 2}) || len(in) != 0 {
		t.Fatalf("sizes in %v out %v", in, out)
	}
}
