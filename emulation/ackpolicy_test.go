package emulation

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// TestAckPolicy checks PROTOCOL.md §7's rule for pure acknowledgements on
// a leg with an AckPolicy: one frame read is acknowledged only after the
// delay; the Frames-th unacknowledged frame is acknowledged at once; and
// an acknowledgement rides along with outgoing frames without waiting.
func TestAckPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := NewChannel(Config{})
		leg, err := c.Attach(0, "test", true)
		if err != nil {
			t.Fatal(err)
		}
		leg.SetAckPolicy(AckPolicy{Frames: 4, Bytes: 1 << 20, Delay: 250 * time.Millisecond})
		f := wire.SharedFrame(bytesocket.Text, []byte("m"))
		deliver := func(first uint64, n int) {
			t.Helper()
			frames := make([]wire.Frame, n)
			for i := range frames {
				frames[i] = f
			}
			if _, err := c.Deliver(ctx, first, frames); err != nil {
				t.Fatal(err)
			}
			for range n {
				if _, _, err := c.Read(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}

		deliver(1, 1)
		start := time.Now()
		b, err := leg.Next(ctx, time.Hour, 1<<20)
		if err != nil || b.Ack != 1 || len(b.Frames) != 0 {
			t.Fatalf("Next = %+v, %v; want a pure ack of 1", b, err)
		}
		if waited := time.Since(start); waited != 250*time.Millisecond {
			t.Fatalf("the ack of one frame came after %v, want 250ms", waited)
		}

		deliver(2, 4) // the 4th unacknowledged frame: at once
		start = time.Now()
		b, _ = leg.Next(ctx, time.Hour, 1<<20)
		if b.Ack != 5 || time.Since(start) != 0 {
			t.Fatalf("after 4 frames: ack %d after %v, want 5 at once", b.Ack, time.Since(start))
		}

		deliver(6, 1) // one frame, but something to send: rides along
		if err := c.Write(ctx, bytesocket.Text, []byte("out")); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		b, _ = leg.Next(ctx, time.Hour, 1<<20)
		if b.Ack != 6 || len(b.Frames) != 1 || time.Since(start) != 0 {
			t.Fatalf("with a frame to send: %+v after %v, want ack 6 and the frame at once", b, time.Since(start))
		}
	})
}
