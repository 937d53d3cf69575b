package sockettest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

const (
	writers        = 8
	writerMessages = 200
)

// writerMsg is message i of writer w: text for even writers, binary for
// odd ones, with a header and a padding whose length varies.
func writerMsg(w, i int) msg {
	m := msg{bytesocket.Text, fmt.Appendf(nil, "%d %d ", w, i)}
	m.data = append(m.data, bytes.Repeat([]byte{'a' + byte(w)}, (i*7+w)%97)...)
	if w%2 == 1 {
		m.typ = bytesocket.Binary
	}
	return m
}

// testConcurrentWriters has 8 goroutines on each side write 200 messages
// each, and checks that every message arrives whole and that each
// writer's messages arrive in the order it wrote them.
func testConcurrentWriters(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	var fns []func(context.Context) error
	for _, d := range directions(server, client) {
		for w := range writers {
			fns = append(fns, func(ctx context.Context) error { return in(d, writeAs(ctx, d.from, w)) })
		}
		fns = append(fns, func(ctx context.Context) error { return in(d, readWriters(ctx, d.to)) })
	}
	if err := together(ctx, fns...); err != nil {
		t.Fatal(err)
	}
}

func writeAs(ctx context.Context, s bytesocket.Socket, w int) error {
	for i := range writerMessages {
		m := writerMsg(w, i)
		if err := s.Write(ctx, m.typ, m.data); err != nil {
			return fmt.Errorf("writer %d, write %d: %w", w, i, err)
		}
	}
	return nil
}

// readWriters reads every writer's messages, in any interleaving.
func readWriters(ctx context.Context, s bytesocket.Socket) error {
	var next [writers]int
	for n := range writers * writerMessages {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return fmt.Errorf("read %d: %w", n, err)
		}
		var w, i int
		if _, err := fmt.Sscanf(string(p), "%d %d ", &w, &i); err != nil || w < 0 || w >= writers {
			return fmt.Errorf("read %d: not a message any writer sent: %q", n, excerpt(p, 0))
		}
		if i != next[w] {
			return fmt.Errorf("read %d: writer %d's message %d arrived when %d was due", n, w, i, next[w])
		}
		if err := compare(msg{typ, p}, writerMsg(w, i)); err != nil {
			return fmt.Errorf("writer %d's message %d: %w", w, i, err)
		}
		next[w]++
	}
	return nil
}
