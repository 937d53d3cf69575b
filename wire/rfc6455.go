package wire

import (
	"encoding/binary"

	"github.com/ferrygw/ferry/bytesocket"
)

// RFC 6455 opcodes of data frames.
const (
	opText   = 0x1
	opBinary = 0x2
)

// AppendServerFrame appends p as one unmasked RFC 6455 data frame, as a
// server sends it (FIN set, no extensions), to be written to the
// connection as is. Encoding a broadcast message once serves every
// subscriber.
func AppendServerFrame(dst []byte, typ bytesocket.MessageType, p []byte) []byte {
	return append(AppendServerFrameHeader(dst, typ, len(p)), p...)
}

// AppendServerFrameHeader appends the header of an unmasked data frame
// with an n-byte payload; the payload follows it.
func AppendServerFrameHeader(dst []byte, typ bytesocket.MessageType, n int) []byte {
	op := byte(opBinary)
	if typ == bytesocket.Text {
		op = opText
	}
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		return append(dst, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// ServerFramePayloadLen returns the payload length of a frame made by
// AppendServerFrame: its length less its header's.
func ServerFramePayloadLen(frame []byte) int {
	if len(frame) < 2 {
		return 0
	}
	switch frame[1] & 0x7f {
	case 126:
		return max(len(frame)-4, 0)
	case 127:
		return max(len(frame)-10, 0)
	}
	return len(frame) - 2
}
