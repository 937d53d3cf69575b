package bytesocket

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// MessageType is the kind of a message: Text or Binary.
type MessageType int

// The two message types, with the RFC 6455 opcode values.
const (
	// Text is a message whose payload is valid UTF-8.
	Text MessageType = 1
	// Binary is a message whose payload is arbitrary bytes.
	Binary MessageType = 2
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return "MessageType(" + itoa(int(t)) + ")"
}

// Socket is a message-oriented, bidirectional connection to one client.
//
// See the package documentation for the concurrency rules.
type Socket interface {
	// Read blocks until the next message arrives, the context ends, or the
	// socket closes. When the peer closed the socket, the error is a
	// CloseError with the peer's code and reason (StatusAbnormalClosure when
	// the connection was lost). After Close, Read returns an error wrapping
	// net.ErrClosed.
	Read(ctx context.Context) (MessageType, []byte, error)

	// Write sends one message. Text payloads must be valid UTF-8
	// (ErrInvalidUTF8 otherwise). Write may block for flow control until the
	// peer has acknowledged earlier messages; it returns ctx.Err() if the
	// context ends first, in which case the message was not sent. The
	// socket does not retain p after Write returns.
	Write(ctx context.Context, typ MessageType, p []byte) error

	// Close starts the closing handshake with the given code and reason
	// (at most 123 bytes). It does not wait for the peer's reply. Calling
	// Close again returns an error wrapping net.ErrClosed.
	Close(code StatusCode, reason string) error

	// Subprotocol returns the negotiated subprotocol, or "".
	Subprotocol() string

	// Transport names the current carrier: "websocket" for a plain
	// RFC 6455 connection, or the emulated leg currently attached
	// ("websocket", "sse", "longpoll"). It may change over a session's life.
	Transport() string

	// RemoteAddr returns the address of the peer that opened the socket.
	RemoteAddr() net.Addr

	// Header returns the headers of the request that opened the socket.
	// Callers must not modify it.
	Header() http.Header
}

// Errors shared by every Socket implementation.
var (
	// ErrInvalidUTF8 is returned by Write for a Text message that is not
	// valid UTF-8.
	ErrInvalidUTF8 = errors.New("bytesocket: text message is not valid UTF-8")
	// ErrMessageTooBig is returned by Write for a message over the
	// implementation's size limit.
	ErrMessageTooBig = errors.New("bytesocket: message too big")
	// ErrReasonTooLong is returned by Close for a reason over 123 bytes.
	ErrReasonTooLong = errors.New("bytesocket: close reason longer than 123 bytes")
)

// MaxReasonBytes is the longest close reason, in bytes, that fits a
// WebSocket close frame (RFC 6455, section 5.5).
const MaxReasonBytes = 123

// ErrClosed returns an error wrapping net.ErrClosed, for use by Socket
// implementations after Close.
func ErrClosed(op string) error {
	return &net.OpError{Op: op, Net: "bytesocket", Err: net.ErrClosed}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
