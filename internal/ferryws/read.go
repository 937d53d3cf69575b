package ferryws

import (
	"bytes"

	"github.com/gorilla/websocket"
)

// readMessage reads the next message into a buffer of exactly its size:
// gorilla's ReadMessage reads into a growing buffer of at least 512 bytes,
// which an inbound queue of empty messages would keep alive, each. scratch
// is reused between calls.
func readMessage(conn *websocket.Conn, scratch *bytes.Buffer) (int, []byte, error) {
	typ, r, err := conn.NextReader()
	if err != nil {
		return typ, nil, err
	}
	scratch.Reset()
	if _, err := scratch.ReadFrom(r); err != nil {
		return typ, nil, err
	}
	p := bytes.Clone(scratch.Bytes())
	if p == nil {
		p = []byte{}
	}
	if scratch.Cap() > 64<<10 {
		*scratch = bytes.Buffer{} // don't keep a big message's buffer
	}
	return typ, p, nil
}
