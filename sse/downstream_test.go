package sse

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ferrygw/ferry/emulation"
)

// goneHijacker is a ResponseWriter whose connection's peer has gone: the
// hijack succeeds and the first write on the connection fails.
type goneHijacker struct {
	*httptest.ResponseRecorder
	writes int // calls to Write/WriteHeader after the hijack
	taken  bool
}

func (g *goneHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	a, b := net.Pipe()
	b.Close()
	g.taken = true
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

func (g *goneHijacker) Write(p []byte) (int, error) {
	if g.taken {
		g.writes++
	}
	return g.ResponseRecorder.Write(p)
}

func (g *goneHijacker) WriteHeader(code int) {
	if g.taken {
		g.writes++
	}
	g.ResponseRecorder.WriteHeader(code)
}

// TestServeLegClientGoneAtHijack checks that a stream whose client left
// before the response head went out ends there: it releases the leg and
// does not fall back to the ResponseWriter, which no longer owns the
// connection.
func TestServeLegClientGoneAtHijack(t *testing.T) {
	sv := &emulation.Server{}
	sv.Init()
	req := httptest.NewRequest(http.MethodGet, "/s/.ferry/x/sse", nil)
	s, err := sv.NewSession(req, "")
	if err != nil {
		t.Fatal(err)
	}
	leg, err := s.AttachLeg(0, "sse", false)
	if err != nil {
		t.Fatal(err)
	}
	w := &goneHijacker{ResponseRecorder: httptest.NewRecorder()}
	released := 0
	Downstream{}.ServeLeg(w, req, s, leg, func() { released++ })
	if w.writes != 0 {
		t.Fatalf("%d writes through the ResponseWriter after the hijack", w.writes)
	}
	if released != 1 {
		t.Fatalf("release called %d times, want 1", released)
	}
}
