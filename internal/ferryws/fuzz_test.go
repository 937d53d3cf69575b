package ferryws

import (
	"testing"

	"github.com/ferrygw/ferry/emulation"
	"github.com/gorilla/websocket"
)

// FuzzParse feeds arbitrary messages to Parse, which reads what a peer
// sends on a Ferry WebSocket: it must never panic, must honour maxBytes,
// and a message it accepts must be exactly one of its kinds.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"hello", "\x00\x01\x02", "\x01a12", "\x01n7", "\x01n0", "\x01n", "\x01h",
		"\x01o{}", "\x01c1000 bye", "\x01c", "\x01x", "\x01", "", "\x02", "\x01a-1", "\x01n99999999999999999999"} {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Fuzz(func(t *testing.T, text bool, p []byte) {
		typ := websocket.BinaryMessage
		if text {
			typ = websocket.TextMessage
		}
		const maxBytes = 64
		m, err := Parse(typ, p, maxBytes)
		if err != nil {
			return
		}
		kinds := 0
		for _, is := range []bool{m.Seq, m.IsAck, m.Next != 0, m.Open != nil} {
			if is {
				kinds++
			}
		}
		if kinds > 1 {
			t.Fatalf("Parse(%q) = %+v: more than one kind", p, m)
		}
		if m.Seq && m.Frame.Kind != emulation.KindClose && len(m.Frame.Data) > maxBytes {
			t.Fatalf("Parse(%q): %d-byte payload accepted with maxBytes %d", p, len(m.Frame.Data), maxBytes)
		}
		if kinds == 0 && (typ != websocket.BinaryMessage || len(p) != 2 || p[0] != Control || p[1] != emulation.KindHeartbeat) {
			t.Fatalf("Parse(%q) = %+v: accepted as a heartbeat", p, m)
		}
	})
}
