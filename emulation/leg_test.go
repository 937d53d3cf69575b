package emulation

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

// TestNextHeartbeat checks, on a fake clock, that an idle leg returns an
// empty batch (a heartbeat) exactly when the wait runs out, and returns at
// once when a frame is written.
func TestNextHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewChannel(Config{})
		l, err := c.Attach(0, "sse", false)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		b, err := l.Next(context.Background(), 25*time.Second, 1<<20)
		if err != nil || !b.Empty() {
			t.Fatalf("Next = %+v, %v; want an empty batch", b, err)
		}
		if d := time.Since(start); d != 25*time.Second {
			t.Fatalf("heartbeat after %v, want 25s", d)
		}
		go func() {
			time.Sleep(3 * time.Second)
			_ = c.Write(context.Background(), bytesocket.Text, []byte("x"))
		}()
		start = time.Now()
		b, err = l.Next(context.Background(), 25*time.Second, 1<<20)
		if err != nil || len(b.Frames) != 1 {
			t.Fatalf("Next = %+v, %v; want one frame", b, err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("frame after %v, want 3s", d)
		}
	})
}

// TestNextAcksWhatWasRead checks that a leg reporting acks acknowledges
// inbound frames only once the application has read them (the credit rule
// of the Ferry WebSocket).
func TestNextAcksWhatWasRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewChannel(Config{})
		l, _ := c.Attach(0, "websocket", true)
		ctx := context.Background()
		if _, err := c.Deliver(ctx, 1, []wire.Frame{{Kind: wire.KindText, Data: []byte("a")}, {Kind: wire.KindText, Data: []byte("b")}}); err != nil {
			t.Fatal(err)
		}
		if b, _ := l.Next(ctx, time.Second, 100); b.Ack != 0 {
			t.Fatalf("acked %d before the application read anything", b.Ack)
		}
		_, _, _ = c.Read(ctx)
		if b, _ := l.Next(ctx, time.Second, 100); b.Ack != 1 {
			t.Fatalf("Ack = %d after one read, want 1", b.Ack)
		}
	})
}

// TestCreditLimitsInFlight checks SetCredit: frames beyond the credit wait
// for acknowledgements, each counting its payload plus MessageOverhead.
func TestCreditLimitsInFlight(t *testing.T) {
	c := NewChannel(Config{})
	ctx := context.Background()
	for range 4 {
		mustWrite(t, c, "1234")
	}
	l, _ := c.Attach(0, "websocket", false)
	l.SetCredit(2*inCost(4) + 3)
	b, _ := l.Next(ctx, time.Millisecond, 1<<20)
	if len(b.Frames) != 2 {
		t.Fatalf("sent %d frames with credit for 2", len(b.Frames))
	}
	if b, _ = l.Next(ctx, time.Millisecond, 1<<20); len(b.Frames) != 0 {
		t.Fatalf("sent %d more frames without an ack", len(b.Frames))
	}
	_ = c.Ack(2)
	if b, _ = l.Next(ctx, time.Millisecond, 1<<20); len(b.Frames) != 2 {
		t.Fatalf("sent %d frames after the ack, want 2", len(b.Frames))
	}
}

// TestCreditCountsEmptyMessages checks that empty messages use credit: a
// stream of them cannot fill the peer's inbound queue for free.
func TestCreditCountsEmptyMessages(t *testing.T) {
	c := NewChannel(Config{})
	ctx := context.Background()
	for range 100 {
		mustWrite(t, c, "")
	}
	l, _ := c.Attach(0, "websocket", false)
	l.SetCredit(10 * MessageOverhead)
	if b, _ := l.Next(ctx, time.Millisecond, 1<<20); len(b.Frames) != 10 {
		t.Fatalf("sent %d empty frames with credit for 10", len(b.Frames))
	}
}

// TestMaxFramesPerBatch checks SetMaxFrames.
func TestMaxFramesPerBatch(t *testing.T) {
	c := NewChannel(Config{})
	ctx := context.Background()
	for range 10 {
		mustWrite(t, c, "x")
	}
	l, _ := c.Attach(0, "sse", false)
	l.SetMaxFrames(4)
	for _, want := range []int{4, 4, 2} {
		if b, _ := l.Next(ctx, time.Millisecond, 1<<20); len(b.Frames) != want {
			t.Fatalf("batch of %d frames, want %d", len(b.Frames), want)
		}
	}
}

// TestCloseAckedWithoutReading checks that a received close is
// acknowledged even if the application never reads it, so a close
// handshake never waits on the application.
func TestCloseAckedWithoutReading(t *testing.T) {
	c := NewChannel(Config{})
	l, _ := c.Attach(0, "websocket", true)
	ctx := context.Background()
	frames := []wire.Frame{{Kind: wire.KindText, Data: []byte("unread")}, {Kind: wire.KindClose, Code: 1000}}
	if _, err := c.Deliver(ctx, 1, frames); err != nil {
		t.Fatal(err)
	}
	if b, _ := l.Next(ctx, time.Millisecond, 100); b.Ack != 2 {
		t.Fatalf("Ack = %d, want 2 (the close and all before it)", b.Ack)
	}
}

// TestNextSkipsFramesAckedElsewhere checks that a leg whose next frames
// were acknowledged over another path (a POST, or an older carrier still
// delivering when the leg took over) reports the skip, so that a carrier
// numbering frames by order restates the number; and that a leg that
// carried every frame before its batch does not.
func TestNextSkipsFramesAckedElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewChannel(Config{})
		ctx := context.Background()
		for _, m := range []string{"1", "2", "3", "4", "5"} {
			if err := c.Write(ctx, bytesocket.Text, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		l, err := c.Attach(1, "websocket", true)
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.Next(ctx, time.Second, 1) // one frame: 2
		if err != nil || len(b.Frames) != 1 || b.Frames[0].Seq != 2 || b.Skip {
			t.Fatalf("Next = %+v, %v; want frame 2, no skip", b, err)
		}
		if err := c.Ack(4); err != nil { // 3 and 4 arrived over another path
			t.Fatal(err)
		}
		b, err = l.Next(ctx, time.Second, 1<<20)
		if err != nil || len(b.Frames) != 1 || b.Frames[0].Seq != 5 || !b.Skip {
			t.Fatalf("Next = %+v, %v; want frame 5 with Skip", b, err)
		}
		// The leg carried 5, so 6 follows it in order.
		if err := c.Ack(5); err != nil {
			t.Fatal(err)
		}
		_ = c.Write(ctx, bytesocket.Text, []byte("6"))
		b, err = l.Next(ctx, time.Second, 1<<20)
		if err != nil || len(b.Frames) != 1 || b.Frames[0].Seq != 6 || b.Skip {
			t.Fatalf("Next = %+v, %v; want frame 6, no skip", b, err)
		}
	})
}
