package wire

import (
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
)

func TestServerFramePayloadLen(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 70000} {
		f := AppendServerFrame(nil, bytesocket.Binary, make([]byte, n))
		if got := ServerFramePayloadLen(f); got != n {
			t.Errorf("payload %d: ServerFramePayloadLen = %d", n, got)
		}
	}
	if got := ServerFramePayloadLen([]byte{0x82}); got != 0 {
		t.Errorf("truncated frame: %d, want 0", got)
	}
}
