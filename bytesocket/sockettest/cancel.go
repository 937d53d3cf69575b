package sockettest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

// testReadCancel checks that Read returns the context's error when the
// context is cancelled before or during the call or its deadline passes,
// and that a message sent afterwards is still received.
func testReadCancel(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	for _, d := range directions(server, client) {
		for _, c := range endedContexts {
			readCtx, cancel := c.make(ctx)
			_, _, err := d.to.Read(readCtx)
			cancel()
			if ctx.Err() != nil || !errors.Is(err, readCtx.Err()) {
				t.Fatalf("%s: Read with a context %s = %v, want %v", d.name, c.name, err, readCtx.Err())
			}
		}
		after := []msg{text("after"), binary([]byte("cancel"))}
		if err := send(ctx, d.from, after); err != nil {
			t.Fatal(in(d, err))
		}
		if err := expect(ctx, d.to, after); err != nil {
			t.Fatal(in(d, err))
		}
	}
}

// endedContext makes a context, derived from ctx, that ends before or
// while a Read that no message will satisfy uses it.
type endedContext struct {
	name string
	make func(ctx context.Context) (context.Context, context.CancelFunc)
}

var endedContexts = []endedContext{
	{"cancelled before the call", func(ctx context.Context) (context.Context, context.CancelFunc) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		return c, cancel
	}},
	{"cancelled during the call", func(ctx context.Context) (context.Context, context.CancelFunc) {
		c, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { cancel(); close(done) }()
		return c, func() { <-done }
	}},
	{"past its deadline", func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithDeadline(ctx, time.Now().Add(-time.Second))
	}},
	{"whose deadline passes during the call", func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, time.Millisecond)
	}},
}

// testReadCancelKeepsMessages races a message against the cancellation
// of the Read waiting for it, 100 times each way: the message must be
// read either by that Read or by the next one, never lost.
func testReadCancelKeepsMessages(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	for _, d := range directions(server, client) {
		for i := range 100 {
			m := text(strconv.Itoa(i))
			readCtx, cancel := context.WithCancel(ctx)
			err := together(ctx,
				func(context.Context) error { cancel(); return nil },
				func(ctx context.Context) error { return send(ctx, d.from, []msg{m}) },
				func(ctx context.Context) error { return readDespite(ctx, readCtx, d.to, m) })
			if err != nil {
				t.Fatalf("%s: round %d: %v", d.name, i, err)
			}
		}
	}
}

// readDespite reads want from s, first with readCtx, which is being
// cancelled, then, if that Read reports the cancellation, with ctx.
func readDespite(ctx, readCtx context.Context, s bytesocket.Socket, want msg) error {
	typ, p, err := s.Read(readCtx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			return fmt.Errorf("Read with a cancelled context = %v, want context.Canceled", err)
		}
		typ, p, err = s.Read(ctx)
		if err != nil {
			return fmt.Errorf("Read after a cancelled Read: %w", err)
		}
	}
	return compare(msg{typ, p}, want)
}
