package sockettest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
)

// The behaviour Run covers is not repeated here: these tests pin what
// Pipe documents beyond the Socket contract.

func TestPipeAccessors(t *testing.T) {
	a, _ := sockettest.Pipe()
	if a.Subprotocol() != "" || a.Transport() != "pipe" || a.RemoteAddr().String() != "pipe" ||
		a.Header() == nil || len(a.Header()) != 0 {
		t.Errorf("Subprotocol %q, Transport %q, RemoteAddr %v, Header %v; want \"\", pipe, pipe, empty",
			a.Subprotocol(), a.Transport(), a.RemoteAddr(), a.Header())
	}
}

func TestPipeRejects(t *testing.T) {
	a, _ := sockettest.Pipe()
	if err := a.Write(context.Background(), 0, nil); err == nil {
		t.Error("Write of message type 0 succeeded")
	}
	for _, code := range []bytesocket.StatusCode{0, 1005, 1006, 1015, 5000} {
		if err := a.Close(code, ""); err == nil {
			t.Errorf("Close(%d) succeeded", code)
		}
	}
}

func TestPipeWriteAfterPeerClose(t *testing.T) {
	a, b := sockettest.Pipe()
	want := bytesocket.CloseError{Code: 4000, Reason: "bye"}
	_ = b.Close(want.Code, want.Reason)
	if err := a.Write(context.Background(), bytesocket.Text, []byte("x")); err != want {
		t.Errorf("Write after the peer closed = %v, want %v", err, want)
	}
	if err := a.Close(bytesocket.StatusNormalClosure, ""); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Close after the peer closed = %v, want net.ErrClosed", err)
	}
}

func TestPipeFlowControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := sockettest.Pipe()
		ctx := context.Background()
		if err := a.Write(ctx, bytesocket.Binary, make([]byte, 2<<20)); err != nil {
			t.Fatalf("a message over the buffer, with nothing unread: %v", err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- a.Write(wctx, bytesocket.Text, []byte("dropped")) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Write with the peer's buffer full returned %v, want it to wait", err)
		default:
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("cancelled Write = %v, want context.Canceled", err)
		}

		go func() { done <- a.Write(ctx, bytesocket.Text, []byte("sent")) }()
		synctest.Wait()
		if _, p, err := b.Read(ctx); len(p) != 2<<20 || err != nil {
			t.Fatalf("Read = %d bytes, %v", len(p), err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Write once the peer read = %v", err)
		}
		if _, p, err := b.Read(ctx); string(p) != "sent" || err != nil {
			t.Fatalf("Read = %q, %v; want the message after the cancelled one", p, err)
		}
	})
}

func TestPipeCloseWakesBlockedWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := sockettest.Pipe()
		ctx := context.Background()
		_ = a.Write(ctx, bytesocket.Binary, make([]byte, 2<<20))
		done := make(chan error)
		go func() { done <- a.Write(ctx, bytesocket.Text, []byte("x")) }()
		synctest.Wait()
		want := bytesocket.CloseError{Code: bytesocket.StatusGoingAway, Reason: "unread"}
		_ = b.Close(want.Code, want.Reason)
		if err := <-done; err != want {
			t.Errorf("blocked Write when the peer closed = %v, want %v", err, want)
		}
	})
}
