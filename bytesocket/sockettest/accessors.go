package sockettest

import (
	"context"
	"errors"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

// testAccessors calls Subprotocol, Transport, RemoteAddr and Header on
// both ends while messages flow both ways: they must not panic or race,
// Transport must name a carrier, and both ends must agree on the
// subprotocol.
func testAccessors(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	msgs := []msg{text("a"), binary([]byte("b")), text("c")}
	var fns []func(context.Context) error
	for _, d := range directions(server, client) {
		fns = append(fns,
			func(ctx context.Context) error { return in(d, send(ctx, d.from, msgs)) },
			func(ctx context.Context) error { return in(d, expect(ctx, d.to, msgs)) },
			func(context.Context) error { return in(d, access(d.from)) })
	}
	if err := together(ctx, fns...); err != nil {
		t.Fatal(err)
	}
	if s, c := server.Subprotocol(), client.Subprotocol(); s != c {
		t.Errorf("Subprotocol: server has %q, client %q", s, c)
	}
}

// access calls every accessor of s a few times.
func access(s bytesocket.Socket) error {
	for range 10 {
		_ = s.Subprotocol()
		if s.Transport() == "" {
			return errors.New("Transport is empty")
		}
		if a := s.RemoteAddr(); a != nil {
			_, _ = a.Network(), a.String()
		}
		h := s.Header()
		for k := range h {
			_ = h.Get(k)
		}
	}
	return nil
}
