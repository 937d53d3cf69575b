package sockettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

// testClose has closer send three messages and close; peer must read the
// messages, then the close with its code and reason, and the closer must
// refuse to read, write or close again.
func testClose(t *testing.T, ctx context.Context, closer, peer bytesocket.Socket) {
	want := bytesocket.CloseError{Code: 4321, Reason: "bye ✓ \r\n\\ done"}
	before := []msg{text("one"), binary([]byte("two")), text("three")}
	if err := send(ctx, closer, before); err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(want.Code, want.Reason); err != nil {
		t.Fatalf("Close(%d, %q) = %v", want.Code, want.Reason, err)
	}
	if err := expect(ctx, peer, before); err != nil {
		t.Fatalf("messages sent before the close: %v", err)
	}
	for range 2 {
		if err := expectClose(ctx, peer, want); err != nil {
			t.Fatal(err)
		}
	}
	if err := peer.Write(ctx, bytesocket.Text, []byte("late")); alive(ctx, err) != nil {
		t.Errorf("peer's Write after the close: %v", alive(ctx, err))
	}
	if _, _, err := closer.Read(ctx); alive(ctx, err) != nil {
		t.Errorf("closer's Read after Close: %v", alive(ctx, err))
	}
	if err := closer.Write(ctx, bytesocket.Text, []byte("late")); alive(ctx, err) != nil {
		t.Errorf("closer's Write after Close: %v", alive(ctx, err))
	}
	if err := closer.Close(want.Code, want.Reason); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want an error wrapping net.ErrClosed", err)
	}
}

// expectClose reads from s and wants the CloseError want.
func expectClose(ctx context.Context, s bytesocket.Socket, want bytesocket.CloseError) error {
	typ, p, err := s.Read(ctx)
	var got bytesocket.CloseError
	switch {
	case err == nil:
		return fmt.Errorf("read a %s message %q, want %v", typ, excerpt(p, 0), want)
	case !errors.As(err, &got):
		return fmt.Errorf("Read = %v, want %v", err, want)
	case got != want:
		return fmt.Errorf("Read = CloseError%+v, want CloseError%+v", got, want)
	}
	return nil
}

// testCloseReasonLimit checks that a reason of 124 bytes is refused,
// leaving the socket open, and that one of 123 bytes arrives whole.
func testCloseReasonLimit(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	longest := strings.Repeat("é", 61) + "!"
	if err := server.Close(bytesocket.StatusNormalClosure, longest+"!"); !errors.Is(err, bytesocket.ErrReasonTooLong) {
		t.Fatalf("Close with a 124-byte reason = %v, want ErrReasonTooLong", err)
	}
	after := []msg{text("still open")}
	if err := send(ctx, server, after); err != nil {
		t.Fatal(err)
	}
	if err := expect(ctx, client, after); err != nil {
		t.Fatal(err)
	}
	if err := server.Close(bytesocket.StatusNormalClosure, longest); err != nil {
		t.Fatalf("Close with a 123-byte reason = %v", err)
	}
	if err := expectClose(ctx, client, bytesocket.CloseError{Code: bytesocket.StatusNormalClosure, Reason: longest}); err != nil {
		t.Fatal(err)
	}
}

// testCloseUnblocksRead closes the server while both ends wait in Read:
// the server's Read must fail and the client's must report the close.
func testCloseUnblocksRead(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	want := bytesocket.CloseError{Code: bytesocket.StatusGoingAway, Reason: "shutting down"}
	err := together(ctx,
		func(ctx context.Context) error {
			_, _, err := server.Read(ctx)
			if err := alive(ctx, err); err != nil {
				return fmt.Errorf("server's blocked Read, after Close: %w", err)
			}
			return nil
		},
		func(ctx context.Context) error { return expectClose(ctx, client, want) },
		func(ctx context.Context) error { return server.Close(want.Code, want.Reason) })
	if err != nil {
		t.Fatal(err)
	}
}
