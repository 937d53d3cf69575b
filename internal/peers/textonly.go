package peers

import (
	"context"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// TextOnly adapts a socket whose protocol carries text only (SockJS) to a
// caller that sends and expects Binary payloads, such as the load tool:
// Write sends a Binary message whose bytes are valid UTF-8 as Text (other
// Binary messages fail with ErrTextOnly), and Read reports every Text
// message as Binary, except those control reports true for, which stay
// Text. control may be nil (no message stays Text).
func TextOnly(s bytesocket.Socket, control func(p []byte) bool) bytesocket.Socket {
	return textOnly{s, control}
}

type textOnly struct {
	bytesocket.Socket
	control func(p []byte) bool
}

// Read returns the next message, Text reported as Binary unless it is a
// control message.
func (t textOnly) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	typ, p, err := t.Socket.Read(ctx)
	if err == nil && typ == bytesocket.Text && (t.control == nil || !t.control(p)) {
		typ = bytesocket.Binary
	}
	return typ, p, err
}

// Write sends p as Text, whether typ is Text or Binary.
func (t textOnly) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if typ == bytesocket.Binary {
		if !utf8.Valid(p) {
			return ErrTextOnly
		}
		typ = bytesocket.Text
	}
	return t.Socket.Write(ctx, typ, p)
}
