package wire

import (
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
)

// The first byte of a binary message on a Ferry WebSocket (PROTOCOL.md §6).
// A text message is a sequenced Text message as it is.
const (
	WSData    = 0x00 // a sequenced Binary message: the rest is its payload
	WSControl = 0x01 // a frame of PROTOCOL.md §3 in text form: o, a, h, n or c
)

// WSMessage is one decoded message of a Ferry WebSocket: a sequenced frame
// (Seq true), an ack (Ack > 0 or IsAck), the number of the next sequenced
// frame (Next > 0), an open frame's JSON (Open), or a heartbeat (none).
type WSMessage struct {
	Frame Frame
	Seq   bool
	IsAck bool
	Ack   uint64
	Next  uint64
	Open  []byte
}

// ParseWSMessage decodes one message of type typ; maxBytes bounds
// payloads (bytesocket.ErrMessageTooBig beyond). A text message that is
// not UTF-8 is bytesocket.ErrInvalidUTF8; any other malformed message,
// ErrBadFrame. A Text or Binary frame's Data aliases p.
func ParseWSMessage(typ bytesocket.MessageType, p []byte, maxBytes int) (WSMessage, error) {
	if len(p) > maxBytes+1 {
		return WSMessage{}, bytesocket.ErrMessageTooBig
	}
	if typ == bytesocket.Text {
		if len(p) > maxBytes {
			return WSMessage{}, bytesocket.ErrMessageTooBig
		}
		if !utf8.Valid(p) {
			return WSMessage{}, bytesocket.ErrInvalidUTF8
		}
		return WSMessage{Frame: Frame{Kind: KindText, Data: p}, Seq: true}, nil
	}
	if len(p) == 0 {
		return WSMessage{}, ErrBadFrame
	}
	if p[0] == WSData {
		if len(p)-1 > maxBytes {
			return WSMessage{}, bytesocket.ErrMessageTooBig
		}
		return WSMessage{Frame: Frame{Kind: KindBinary, Data: p[1:]}, Seq: true}, nil
	}
	if p[0] != WSControl || len(p) < 2 {
		return WSMessage{}, ErrBadFrame
	}
	return parseControl(p[1:])
}

func parseControl(p []byte) (WSMessage, error) {
	switch p[0] {
	case KindAck:
		n, ok := ParseUint(string(p[1:]))
		if !ok {
			return WSMessage{}, ErrBadFrame
		}
		return WSMessage{IsAck: true, Ack: n}, nil
	case KindNext:
		n, ok := ParseUint(string(p[1:]))
		if !ok || n == 0 {
			return WSMessage{}, ErrBadFrame
		}
		return WSMessage{Next: n}, nil
	case KindHeartbeat:
		if len(p) != 1 {
			return WSMessage{}, ErrBadFrame
		}
		return WSMessage{}, nil
	case KindOpen:
		return WSMessage{Open: p[1:]}, nil
	case KindClose:
		f, err := ParseSequenced(p)
		return WSMessage{Frame: f, Seq: err == nil}, err
	}
	return WSMessage{}, ErrBadFrame
}

// AppendWSBatch appends a batch as the unmasked RFC 6455 frames a server
// writes on a Ferry WebSocket, so that the whole batch goes out in one
// write: the ack first, then the frames (after an "n" frame restating the
// first one's number if the batch skips), or a heartbeat when the batch is
// empty.
func AppendWSBatch(dst []byte, b Batch) []byte {
	if b.Ack != 0 {
		ack := AppendAck([]byte{WSControl}, b.Ack)
		dst = AppendServerFrame(dst, bytesocket.Binary, ack)
	} else if len(b.Frames) == 0 {
		dst = AppendServerFrame(dst, bytesocket.Binary, []byte{WSControl, KindHeartbeat})
	}
	if b.Skip && len(b.Frames) > 0 {
		var tmp [24]byte
		dst = AppendServerFrame(dst, bytesocket.Binary, AppendNext(append(tmp[:0], WSControl), b.Frames[0].Seq))
	}
	for i := range b.Frames {
		f := &b.Frames[i]
		switch f.Kind {
		case KindText:
			dst = AppendServerFrame(dst, bytesocket.Text, f.Data)
		case KindBinary:
			dst = AppendServerFrameHeader(dst, bytesocket.Binary, 1+len(f.Data))
			dst = append(append(dst, WSData), f.Data...)
		default:
			dst = AppendServerFrame(dst, bytesocket.Binary, f.AppendText([]byte{WSControl}))
		}
	}
	return dst
}
