package sockettest

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

// msg is a message the suite sends and expects to arrive unchanged.
type msg struct {
	typ  bytesocket.MessageType
	data []byte
}

func text(s string) msg   { return msg{bytesocket.Text, []byte(s)} }
func binary(p []byte) msg { return msg{bytesocket.Binary, p} }
func textAndBinary(s string) []msg {
	return []msg{text(s), binary([]byte(s))}
}

// EdgeTexts are payloads that line- or event-oriented carriers tend to
// damage: line ends, event-stream field names, escapes, NUL, the Unicode
// line separators and characters outside the BMP.
var edgeTexts = []string{
	"\r", "\n", "\r\n", "\n\r", "\n\n", "\r\r", "a\rb\nc\r\nd",
	"data: x", "data:x\n\ndata: y", "id: 3", "event: close", "retry: 0", ":comment",
	"\x00", "a\x00b", "\u2028", "\u2029", "\u0085", "\ufeff", "\ufffd",
	"😀𝄞", "\\", "\\r\\n", "\\\\", "\\n", "\\x", "tb", "b", "c1000 bye", "\"'<>&", " ",
}

// send writes msgs in order.
func send(ctx context.Context, s bytesocket.Socket, msgs []msg) error {
	for i, m := range msgs {
		if err := s.Write(ctx, m.typ, m.data); err != nil {
			return fmt.Errorf("write %d (%s, %d bytes): %w", i, m.typ, len(m.data), err)
		}
	}
	return nil
}

// expect reads len(msgs) messages and checks that they are msgs, in order.
func expect(ctx context.Context, s bytesocket.Socket, msgs []msg) error {
	for i, want := range msgs {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return fmt.Errorf("read %d: %w", i, err)
		}
		if err := compare(msg{typ, p}, want); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return nil
}

// compare describes how got differs from want, briefly even for 16 MiB.
func compare(got, want msg) error {
	if got.typ != want.typ {
		return fmt.Errorf("got a %s message, want %s", got.typ, want.typ)
	}
	if bytes.Equal(got.data, want.data) {
		return nil
	}
	i := 0
	for i < len(got.data) && i < len(want.data) && got.data[i] == want.data[i] {
		i++
	}
	return fmt.Errorf("got %d bytes, want %d; they differ at byte %d: got %q, want %q",
		len(got.data), len(want.data), i, excerpt(got.data, i), excerpt(want.data, i))
}

func excerpt(p []byte, i int) []byte {
	return p[min(i, len(p)):min(i+16, len(p))]
}

// in labels err, if any, with the direction it happened in.
func in(d direction, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	return nil
}

// exchange sends msgs both ways at once and checks what arrives.
func exchange(t *testing.T, ctx context.Context, server, client bytesocket.Socket, msgs []msg) {
	t.Helper()
	var fns []func(context.Context) error
	for _, d := range directions(server, client) {
		fns = append(fns,
			func(ctx context.Context) error { return in(d, send(ctx, d.from, msgs)) },
			func(ctx context.Context) error { return in(d, expect(ctx, d.to, msgs)) })
	}
	if err := together(ctx, fns...); err != nil {
		t.Fatal(err)
	}
}

// testOrdering sends 1000 messages each way at once.
func testOrdering(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	msgs := make([]msg, 1000)
	for i := range msgs {
		msgs[i] = msg{bytesocket.Text, fmt.Appendf(nil, "message %d %s", i, strings.Repeat("x", i%64))}
		if i%2 == 1 {
			msgs[i].typ = bytesocket.Binary
		}
	}
	exchange(t, ctx, server, client, msgs)
}

// testBinaryAllBytes sends every byte value, together and one by one.
func testBinaryAllBytes(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	msgs := []msg{binary(all)}
	for i := range all {
		msgs = append(msgs, binary(all[i:i+1]))
	}
	reversed := bytes.Clone(all)
	for i := range reversed {
		reversed[i] = all[255-i]
	}
	exchange(t, ctx, server, client, append(msgs, binary(reversed)))
}

// testTextEdgeCases sends the edge payloads as text and as binary, and
// all of them in one long text message.
func testTextEdgeCases(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	var msgs []msg
	for _, s := range edgeTexts {
		msgs = append(msgs, textAndBinary(s)...)
	}
	long := strings.Repeat(strings.Join(edgeTexts, ""), 512)
	exchange(t, ctx, server, client, append(msgs, textAndBinary(long)...))
}

// testEmpty sends empty messages of both types between non-empty ones.
func testEmpty(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	msgs := []msg{text(""), binary(nil), text("x"), binary([]byte{}), text(""), binary([]byte{0})}
	exchange(t, ctx, server, client, msgs)
}

// testLarge sends a different 16 MiB binary message each way at once.
func testLarge(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	const size = 16 << 20
	payloads := map[bytesocket.Socket][]msg{
		server: {binary(noise(size, 1))},
		client: {binary(noise(size, 2))},
	}
	var fns []func(context.Context) error
	for _, d := range directions(server, client) {
		msgs := payloads[d.from]
		fns = append(fns,
			func(ctx context.Context) error { return in(d, send(ctx, d.from, msgs)) },
			func(ctx context.Context) error { return in(d, expect(ctx, d.to, msgs)) })
	}
	if err := together(ctx, fns...); err != nil {
		t.Fatal(err)
	}
}

// noise returns n pseudo-random bytes (xorshift64*), the same for a seed.
func noise(n int, seed uint64) []byte {
	p := make([]byte, n+8)
	x := seed
	for i := 0; i < n; i += 8 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		bin.LittleEndian.PutUint64(p[i:], x*0x2545F4914F6CDD1D)
	}
	return p[:n:n]
}

// testInvalidUTF8 checks that Write refuses text that is not UTF-8, sends
// nothing, and leaves the socket usable.
func testInvalidUTF8(t *testing.T, ctx context.Context, server, client bytesocket.Socket) {
	bad := []string{"\xff", "a\x80b", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"}
	for _, d := range directions(server, client) {
		for _, s := range bad {
			if err := d.from.Write(ctx, bytesocket.Text, []byte(s)); !errors.Is(err, bytesocket.ErrInvalidUTF8) {
				t.Errorf("%s: Write(Text, %q) = %v, want ErrInvalidUTF8", d.name, s, err)
			}
		}
		msgs := []msg{binary([]byte(bad[0])), text("still open")}
		if err := together(ctx,
			func(ctx context.Context) error { return in(d, send(ctx, d.from, msgs)) },
			func(ctx context.Context) error { return in(d, expect(ctx, d.to, msgs)) }); err != nil {
			t.Fatal(err)
		}
	}
}
