package ferryws

import (
	"bytes"
	"io"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/gorilla/websocket"
)

// readMessage reads the next message into a buffer of exactly its size:
// gorilla's ReadMessage reads into a growing buffer of at least 512 bytes,
// which an inbound queue of empty messages would keep alive, each. A
// message over limit bytes is read to its end and dropped, and
// bytesocket.ErrMessageTooBig returned: the connection stays usable, so
// the session's close can still go out on it. scratch is reused between
// calls.
func readMessage(conn *websocket.Conn, scratch *bytes.Buffer, limit int) (int, []byte, error) {
	typ, r, err := conn.NextReader()
	if err != nil {
		return typ, nil, err
	}
	scratch.Reset()
	n, err := scratch.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return typ, nil, err
	}
	if n > int64(limit) {
		*scratch = bytes.Buffer{}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return typ, nil, err
		}
		return typ, nil, bytesocket.ErrMessageTooBig
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
