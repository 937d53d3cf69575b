package emulation

import (
	"context"
	"errors"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// TestDeliverRetryAfterFinish: a client's close frame was delivered but
// the answer was lost; its retry carries the acknowledgement of the
// server's close, which finishes the channel before the frames are
// looked at. The retry must still succeed (the client needs the answer to
// report a clean close); anything new is refused.
func TestDeliverRetryAfterFinish(t *testing.T) {
	ctx := context.Background()
	c := NewChannel(Config{})
	closeFrame := []wire.Frame{{Kind: wire.KindClose, Code: 1000}}
	if r, err := c.Deliver(ctx, 1, closeFrame); err != nil || r != 1 {
		t.Fatalf("Deliver(close) = %d, %v", r, err)
	}
	if _, _, err := c.Read(ctx); bytesocket.CloseStatus(err) != 1000 { // reading the close answers it
		t.Fatalf("Read = %v, want the close", err)
	}
	if err := c.Ack(c.Sent()); err != nil { // the client got the echoed close
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("channel not finished after the close handshake")
	}
	if r, err := c.Deliver(ctx, 1, closeFrame); err != nil || r != 1 {
		t.Fatalf("retried Deliver(close) after finish = %d, %v; want 1, nil", r, err)
	}
	more := []wire.Frame{{Kind: wire.KindClose, Code: 1000}, {Kind: wire.KindText, Data: []byte("late")}}
	if _, err := c.Deliver(ctx, 1, more); !errors.Is(err, ErrSessionDone) {
		t.Fatalf("Deliver of a new frame after finish = %v, want ErrSessionDone", err)
	}
}
