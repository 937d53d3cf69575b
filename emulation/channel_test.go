package emulation

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

func mustWrite(t *testing.T, c *Channel, s string) {
	t.Helper()
	if err := c.Write(context.Background(), bytesocket.Text, []byte(s)); err != nil {
		t.Fatalf("Write(%q): %v", s, err)
	}
}

func TestLegReplayFromLast(t *testing.T) {
	c := NewChannel(Config{})
	for _, s := range []string{"a", "b", "c"} {
		mustWrite(t, c, s)
	}
	l, err := c.Attach(1, "sse", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Next(context.Background(), time.Second, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Frames) != 2 || b.Frames[0].Seq != 2 || string(b.Frames[1].Data) != "c" {
		t.Fatalf("got %+v, want frames 2 and 3", b.Frames)
	}
	if c.Unacked() != 2 {
		t.Fatalf("Unacked = %d, want 2 (attach at 1 acknowledges frame 1)", c.Unacked())
	}
}

func TestAttachErrors(t *testing.T) {
	c := NewChannel(Config{})
	mustWrite(t, c, "a")
	mustWrite(t, c, "b")
	if _, err := c.Attach(3, "sse", false); !errors.Is(err, ErrAheadOfStream) {
		t.Errorf("Attach(3) = %v, want ErrAheadOfStream", err)
	}
	if err := c.Ack(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Attach(1, "sse", false); !errors.Is(err, ErrOutsideWindow) {
		t.Errorf("Attach(1) after ack 2 = %v, want ErrOutsideWindow", err)
	}
	if err := c.Ack(5); !errors.Is(err, ErrAckAhead) {
		t.Errorf("Ack(5) = %v, want ErrAckAhead", err)
	}
}

func TestNewLegReplacesOld(t *testing.T) {
	c := NewChannel(Config{})
	old, _ := c.Attach(0, "sse", false)
	if _, err := c.Attach(0, "longpoll", false); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Next(context.Background(), time.Second, 100); !errors.Is(err, ErrReplaced) {
		t.Fatalf("old leg Next = %v, want ErrReplaced", err)
	}
}

func TestWriteWaitsForWindow(t *testing.T) {
	c := NewChannel(Config{WindowBytes: 4, WindowMessages: 100})
	mustWrite(t, c, "1234")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Write(ctx, bytesocket.Text, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write with full window = %v, want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Write(context.Background(), bytesocket.Text, []byte("x")) }()
	if err := c.Ack(1); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Write after ack: %v", err)
	}
	if c.Sent() != 2 {
		t.Fatalf("Sent = %d, want 2 (the cancelled write must not be sent)", c.Sent())
	}
}

func TestOversizeMessageAdmittedAlone(t *testing.T) {
	c := NewChannel(Config{WindowBytes: 4})
	if err := c.Write(context.Background(), bytesocket.Binary, make([]byte, 100)); err != nil {
		t.Fatalf("a message larger than the window must pass when nothing is retained: %v", err)
	}
}

func TestDeliverDedupAndGap(t *testing.T) {
	c := NewChannel(Config{})
	ctx := context.Background()
	fs := []wire.Frame{{Kind: wire.KindText, Data: []byte("1")}, {Kind: wire.KindText, Data: []byte("2")}}
	if r, err := c.Deliver(ctx, 1, fs); err != nil || r != 2 {
		t.Fatalf("Deliver = %d, %v", r, err)
	}
	// The same batch retried, then one overlapping batch.
	if r, err := c.Deliver(ctx, 1, fs); err != nil || r != 2 {
		t.Fatalf("retried Deliver = %d, %v", r, err)
	}
	more := []wire.Frame{{Kind: wire.KindText, Data: []byte("2")}, {Kind: wire.KindText, Data: []byte("3")}}
	if r, err := c.Deliver(ctx, 2, more); err != nil || r != 3 {
		t.Fatalf("overlapping Deliver = %d, %v", r, err)
	}
	if _, err := c.Deliver(ctx, 5, fs); !errors.Is(err, ErrSeqGap) {
		t.Fatalf("gap Deliver = %v, want ErrSeqGap", err)
	}
	for _, want := range []string{"1", "2", "3"} {
		_, p, err := c.Read(ctx)
		if err != nil || string(p) != want {
			t.Fatalf("Read = %q, %v; want %q", p, err, want)
		}
	}
}

func TestCloseHandshake(t *testing.T) {
	ctx := context.Background()
	server, client := NewChannel(Config{}), NewChannel(Config{})
	if err := client.Close(4001, "bye"); err != nil {
		t.Fatal(err)
	}
	// Carry the client's close to the server.
	relay(t, client, server)
	if _, _, err := server.Read(ctx); bytesocket.CloseStatus(err) != 4001 {
		t.Fatalf("server Read = %v, want close 4001", err)
	}
	// The server echoed; carry it back, and the acks both ways.
	relay(t, server, client)
	_ = server.Ack(server.Sent())
	_ = client.Ack(client.Sent())
	for _, c := range []*Channel{server, client} {
		select {
		case <-c.Done():
		default:
			t.Fatal("channel not finished after the close handshake")
		}
	}
	var ce bytesocket.CloseError
	if _, _, err := client.Read(ctx); !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
		t.Fatalf("client Read = %v, want the echoed close 4001 bye", err)
	}
}

// relay moves every retained frame of from into to.
func relay(t *testing.T, from, to *Channel) {
	t.Helper()
	l, err := from.Attach(from.Acked(), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Next(context.Background(), time.Millisecond, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Frames) > 0 {
		if _, err := to.Deliver(context.Background(), b.Frames[0].Seq, b.Frames); err != nil {
			t.Fatal(err)
		}
	}
	l.Detach()
}

func TestAbortReportsCode(t *testing.T) {
	c := NewChannel(Config{})
	c.Abort(bytesocket.StatusInvalidFramePayload, "bad utf-8")
	if _, _, err := c.Read(context.Background()); bytesocket.CloseStatus(err) != 1007 {
		t.Fatalf("Read after Abort = %v, want 1007", err)
	}
	if err := c.Write(context.Background(), bytesocket.Text, nil); bytesocket.CloseStatus(err) != 1007 {
		t.Fatalf("Write after Abort = %v, want 1007", err)
	}
}

// TestTryWriteFramesSlack fills the window, then checks that exactly
// slack more frames are admitted without waiting and that the call that
// overflows reports it, having queued the frames before the overflow.
func TestTryWriteFramesSlack(t *testing.T) {
	c := NewChannel(Config{WindowBytes: 1 << 20, WindowMessages: 4})
	f := wire.SharedFrame(bytesocket.Binary, []byte("x"))
	ok, err := c.TryWriteFrames([]wire.Frame{f, f, f}, 2)
	if !ok || err != nil {
		t.Fatalf("3 frames into an empty window of 4: %v %v", ok, err)
	}
	ok, err = c.TryWriteFrames([]wire.Frame{f, f, f}, 2) // 4 fill the window, 2 are slack
	if !ok || err != nil {
		t.Fatalf("window plus slack: %v %v", ok, err)
	}
	ok, err = c.TryWriteFrames([]wire.Frame{f, f}, 2)
	if ok || err != nil {
		t.Fatalf("beyond the slack: ok=%v err=%v, want false, nil", ok, err)
	}
	leg, err := c.Attach(0, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := leg.Next(context.Background(), time.Second, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Frames) != 6 || b.Frames[5].Seq != 6 {
		t.Fatalf("got %d frames (last %+v), want 6 ending at seq 6", len(b.Frames), b.Frames[len(b.Frames)-1])
	}
	if err := c.Ack(6); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.TryWriteFrames([]wire.Frame{f}, 0); !ok || err != nil {
		t.Fatalf("after the ack: %v %v", ok, err)
	}
}
