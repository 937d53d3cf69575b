package wire

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// Frame kinds, the first byte of a frame on the wire (PROTOCOL.md §3).
const (
	KindText      byte = 't'
	KindBinary    byte = 'b'
	KindClose     byte = 'c'
	KindOpen      byte = 'o'
	KindAck       byte = 'a'
	KindHeartbeat byte = 'h'
	KindReconnect byte = 'r'
	// KindNext restates, on a Ferry WebSocket, the number of the next
	// sequenced frame (PROTOCOL.md §6): frames before it were acknowledged
	// over another path and are not sent.
	KindNext byte = 'n'
)

// Frame is one sequenced frame: a message or a close. Frames are
// immutable once created and may be shared between sessions. Its text form
// (AppendText) is what event streams, long-poll bodies and POST bodies
// carry; a Ferry WebSocket carries messages as they are (AppendWSBatch).
type Frame struct {
	Seq  uint64
	Kind byte   // KindText, KindBinary or KindClose
	Data []byte // the payload; for KindClose the reason
	Code bytesocket.StatusCode

	text *textForm // shared text encoding (see SharedFrame), or nil
}

// textForm is a frame's text encoding, computed once for all sessions
// that carry the frame.
type textForm struct {
	once sync.Once
	b    []byte
}

// SharedFrame returns a message frame meant to be written to many
// sessions (a broadcast): its text form, base64 for binary, is encoded
// once, on first use, and shared. data must not change afterwards.
func SharedFrame(typ bytesocket.MessageType, data []byte) Frame {
	return Frame{Kind: KindOf(typ), Data: data, text: &textForm{}}
}

// AppendText appends the frame in its text form (PROTOCOL.md §3), as
// carried by event streams and POST bodies.
func (f *Frame) AppendText(dst []byte) []byte {
	if f.text != nil {
		t := f.text
		t.once.Do(func() { t.b = f.appendText(nil) })
		return append(dst, t.b...)
	}
	return f.appendText(dst)
}

func (f *Frame) appendText(dst []byte) []byte {
	switch f.Kind {
	case KindText:
		return AppendText(dst, f.Data)
	case KindBinary:
		return AppendBinary(dst, f.Data)
	}
	return appendClose(dst, f.Code, f.Data)
}

func appendClose(dst []byte, code bytesocket.StatusCode, reason []byte) []byte {
	dst = append(dst, KindClose)
	if code == bytesocket.StatusNoStatusRcvd {
		return dst // a close without a status code
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	if len(reason) > 0 {
		dst = append(dst, ' ')
		dst = AppendEscaped(dst, reason)
	}
	return dst
}

// ParseSequenced decodes one sequenced frame in text form (t, b or c),
// accepting only what AppendText writes. A text frame with invalid UTF-8
// returns bytesocket.ErrInvalidUTF8; anything else malformed, ErrBadFrame.
func ParseSequenced(line []byte) (Frame, error) {
	if len(line) == 0 {
		return Frame{}, ErrBadFrame
	}
	switch line[0] {
	case KindText, KindBinary:
		typ, p, err := ParseFrame(line)
		if err != nil {
			return Frame{}, err // ErrBadFrame or bytesocket.ErrInvalidUTF8
		}
		return Frame{Kind: KindOf(typ), Data: p}, nil
	case KindClose:
		return parseClose(line[1:])
	}
	return Frame{}, ErrBadFrame
}

func parseClose(s []byte) (Frame, error) {
	if len(s) == 0 {
		return Frame{Kind: KindClose, Code: bytesocket.StatusNoStatusRcvd}, nil
	}
	num, rest := s, []byte(nil)
	for i, c := range s {
		if c == ' ' {
			num, rest = s[:i], s[i+1:]
			break
		}
	}
	code, ok := parseUint(num)
	if !ok || !bytesocket.StatusCode(code).Sendable() {
		return Frame{}, ErrBadFrame
	}
	reason, err := Unescape(nil, rest)
	if err != nil || !utf8.Valid(reason) || len(reason) > bytesocket.MaxReasonBytes {
		return Frame{}, ErrBadFrame
	}
	return Frame{Kind: KindClose, Code: bytesocket.StatusCode(code), Data: reason}, nil
}

// KindOf returns the frame kind of a message type: KindBinary for
// Binary, KindText for anything else.
func KindOf(t bytesocket.MessageType) byte {
	if t == bytesocket.Binary {
		return KindBinary
	}
	return KindText
}

// MessageType returns the message type of a text or binary frame.
func (f *Frame) MessageType() bytesocket.MessageType {
	if f.Kind == KindBinary {
		return bytesocket.Binary
	}
	return bytesocket.Text
}

// AppendAck appends the control frame "a<n>".
func AppendAck(dst []byte, n uint64) []byte {
	return strconv.AppendUint(append(dst, KindAck), n, 10)
}

// AppendNext appends the control frame "n<n>": the next sequenced frame
// on this connection is number n (Ferry WebSocket only, PROTOCOL.md §6).
func AppendNext(dst []byte, n uint64) []byte {
	return strconv.AppendUint(append(dst, KindNext), n, 10)
}

// ParseUint parses a protocol decimal number: digits only, no leading
// zeros, at most 2^53-1.
func ParseUint(s string) (uint64, bool) { return parseUint([]byte(s)) }

const maxProtoNumber = 1<<53 - 1

func parseUint(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 16 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n <= maxProtoNumber
}
