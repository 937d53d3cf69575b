package emulation

import (
	"net/http/httptest"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

// TestCountersResumesAndFallbacks checks which attaches count as resumes
// and fallbacks: a session opened for sse that falls back to long-poll, a
// Ferry WebSocket resumed and then moved to sse.
func TestCountersResumesAndFallbacks(t *testing.T) {
	cases := []struct {
		name              string
		path              string // opening request path
		legs              []string
		resumes, fallback uint64
	}{
		{"sse reconnects", "/.ferry/open", []string{"sse", "sse", "sse"}, 0, 0},
		{"long-poll requests", "/.ferry/open", []string{"longpoll", "longpoll"}, 1, 1},
		{"sse falls back to long-poll", "/.ferry/open", []string{"sse", "longpoll", "longpoll"}, 1, 1},
		{"websocket resumes", "/.ferry/ws", []string{"websocket", "websocket"}, 1, 0},
		{"websocket to sse and back", "/.ferry/ws", []string{"websocket", "sse", "websocket"}, 2, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Counters
			sv := &Server{Counters: &c}
			s, err := sv.NewSession(httptest.NewRequest("POST", tc.path, nil), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range tc.legs {
				l, err := s.AttachLeg(0, tr, false)
				if err != nil {
					t.Fatal(err)
				}
				l.Detach()
			}
			s.Fail(bytesocket.CloseError{Code: bytesocket.StatusGoingAway})
			got := c.Snapshot()
			if got.Resumes != tc.resumes || got.Fallbacks != tc.fallback || got.Closes[bytesocket.StatusGoingAway] != 1 {
				t.Fatalf("resumes %d fallbacks %d closes %v, want %d %d {1001:1}", got.Resumes, got.Fallbacks, got.Closes, tc.resumes, tc.fallback)
			}
		})
	}
}
